"""The app without one piece of its performance machinery, for `app_perf.py --without PIECE`.

Each variant is a copy of this checkout's app (made when the benchmark starts, so editing the
tree during a run changes nothing that is measured) with a few named edits. An edit's text must
occur exactly once in its file: when the code moves on, the benchmark stops with the edit's name
instead of measuring the unchanged app under a variant's name.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

# What the served app needs besides crosswalk_ui/ and pipelines/ (data/ is linked, not copied:
# it holds the exported model cache, and a copy would export the model again).
_COPIED = ("app.py", "crosswalk_ui", "pipelines", "concepts", "corpus", "lexicons", "static")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the checkout
    old: str
    new: str


@dataclass(frozen=True)
class Variant:
    what: str  # the piece that is taken out, as the results name it
    edits: tuple[Edit, ...]


VARIANTS: dict[str, Variant] = {
    "warm-up": Variant(
        "the warm-up thread after the first page (search index, model, each page's `warm()`)",
        (
            Edit(
                "crosswalk_ui/warm_up.py",
                "target=_after_first_page, args=(path,), name=WARM_UP_THREAD",
                "target=_over.set, name=WARM_UP_THREAD",  # over at once, having done nothing
            ),
        ),
    ),
    "preload": Variant(
        "the launcher's preload thread (imports and the first page's data while the browser loads)",
        (
            Edit(
                "crosswalk_ui/warm_up.py",
                "threading.Thread(target=_preload, name=PRELOAD_THREAD, daemon=True).start()",
                "pass",
            ),
        ),
    ),
    "kept charts": Variant(
        "the plotly element keeping each page's chart while the reader is away",
        (
            Edit(
                "crosswalk_ui/js/plotly_element.js",
                "      kept[data.key] = box;",
                "      purge(box);",
            ),
        ),
    ),
    "gc freeze": Variant(
        "the warm-up freezing what it loaded out of the garbage collector's reach (`gc.freeze`)",
        (Edit("crosswalk_ui/warm_up.py", "    gc.freeze()", "    pass"),),
    ),
    "prefetch": Variant(
        "the first page readying the others in the browser (`prefetch.py`)",
        (Edit("app.py", "    prefetch.ready_the_browser(navigation.title, pages.ALL)\n", ""),),
    ),
}


def snapshot(root: Path, folder: Path, name: str = "this") -> Path:
    """A copy of the app at `root` in `folder/name`; returns its app.py."""
    target = folder / name.replace(" ", "-")
    target.mkdir(parents=True)
    for entry in _COPIED:
        source = root / entry
        if source.is_dir():
            shutil.copytree(source, target / entry, ignore=_IGNORED)
        elif source.exists():
            shutil.copy2(source, target / entry)
    shutil.copytree(root / ".streamlit", target / ".streamlit")
    (target / "data").symlink_to(root / "data", target_is_directory=True)
    return target / "app.py"


def without(root: Path, folder: Path, piece: str) -> Path:
    """A copy of the app at `root` without `piece` (a key of `VARIANTS`); returns its app.py."""
    app = snapshot(root, folder, f"without {piece}")
    for edit in VARIANTS[piece].edits:
        path = app.parent / edit.path
        text = path.read_text(encoding="utf-8")
        if text.count(edit.old) != 1:
            raise SystemExit(
                f"the variant without {piece!r} no longer applies: {edit.path} holds "
                f"{text.count(edit.old)} copies of {edit.old!r}"
            )
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")
    return app
