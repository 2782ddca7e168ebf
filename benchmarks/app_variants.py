"""Copies of the app to serve in one benchmark run: this checkout, and this checkout with one piece
of its performance machinery taken out (or put back), for `app_perf.py --variant NAME`.

Every copy is made when the run starts, so that editing the tree during a run changes nothing
that is measured. `committed=True` copies the checkout's last commit instead of its files (in a
work tree several people edit, their unfinished changes stay out of the measurement). A variant
is a few named edits of the copy; an edit's text must occur exactly once in its file, so when the
code moves on the benchmark stops with the variant's name instead of measuring the unchanged app
under that name.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

# What the served app needs besides crosswalk_ui/ and pipelines/ (data/ is linked, not copied:
# it holds the exported model cache, and a copy would export the model again).
_COPIED = ("app.py", ".streamlit", "crosswalk_ui", "pipelines", "concepts", "corpus", "lexicons")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the checkout
    old: str
    new: str


@dataclass(frozen=True)
class Variant:
    what: str  # what differs from this app, as the results say it
    edits: tuple[Edit, ...]


_WARM_UP = "crosswalk_ui/warm_up.py"
VARIANTS: dict[str, Variant] = {
    "without warm-up": Variant(
        "the warm-up thread after the first page (search index, model, each page's `warm()`)",
        # The thread is over at once, having done nothing.
        (
            Edit(
                _WARM_UP,
                "target=_after_first_page, args=(path,), name=WARM_UP_THREAD",
                "target=_over.set, name=WARM_UP_THREAD",
            ),
        ),
    ),
    "without preload": Variant(
        "the launcher's preload thread (imports and the first page's data while the browser loads)",
        (
            Edit(
                _WARM_UP,
                "threading.Thread(target=_preload, name=PRELOAD_THREAD, daemon=True).start()",
                "pass",
            ),
        ),
    ),
    "with emoji preload": Variant(
        "the preload also importing Streamlit's emoji catalogue, `streamlit.emojis` (not API)",
        (
            Edit(
                _WARM_UP,
                "    inspect.stack()\n",
                "    import streamlit.emojis  # noqa: F401\n\n    inspect.stack()\n",
            ),
        ),
    ),
    "with gc freeze": Variant(
        "the warm-up freezing what it loaded out of the garbage collector's reach (`gc.freeze`)",
        (
            Edit(
                _WARM_UP,
                "            page.warm()\n",
                '            page.warm()\n    __import__("gc").freeze()\n',
            ),
        ),
    ),
    "without kept charts": Variant(
        "the plotly element keeping each page's chart while the reader is away",
        (
            Edit(
                "crosswalk_ui/js/plotly_element.js",
                "      kept[data.key] = box;",
                "      purge(box);",
            ),
        ),
    ),
    "without prefetch": Variant(
        "the first page readying the others in the browser (`prefetch.py`)",
        (Edit("app.py", "    prefetch.ready_the_browser(navigation.title, pages.ALL)\n", ""),),
    ),
}


def snapshot(root: Path, folder: Path, name: str = "this", *, committed: bool = False) -> Path:
    """A copy of the app at `root` in `folder/name`; returns its app.py."""
    target = folder / name.replace(" ", "-")
    target.mkdir(parents=True)
    if committed:
        git = ["git", "-C", str(root)]
        tracked = subprocess.run(
            [*git, "ls-tree", "--name-only", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.split()
        archive = subprocess.run(
            [*git, "archive", "HEAD", *[e for e in _COPIED if e in tracked]],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    else:
        for entry in _COPIED:
            source = root / entry
            if source.is_dir():
                shutil.copytree(source, target / entry, ignore=_IGNORED)
            elif source.exists():
                shutil.copy2(source, target / entry)
    # plotly.js, copied from the plotly package into static/ when the app starts (not in git).
    shutil.copytree(root / "static", target / "static", dirs_exist_ok=True)
    (target / "data").symlink_to(root / "data", target_is_directory=True)
    return target / "app.py"


def variant(root: Path, folder: Path, name: str, *, committed: bool = False) -> Path:
    """A copy of the app at `root` with the edits of `VARIANTS[name]`; returns its app.py."""
    app = snapshot(root, folder, name, committed=committed)
    for edit in VARIANTS[name].edits:
        path = app.parent / edit.path
        text = path.read_text(encoding="utf-8")
        if text.count(edit.old) != 1:
            raise SystemExit(
                f"the variant {name!r} no longer applies: {edit.path} holds "
                f"{text.count(edit.old)} copies of {edit.old!r}"
            )
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return app
