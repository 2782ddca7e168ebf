"""A plotly chart that the browser keeps and updates in place (the Map, the concept graph).

`st.plotly_chart` makes a changed figure a new element: the chart is taken down and plotly draws
it again from nothing (about 0.6 s for the Map's 1,000 points on the benchmark machine). This
element keeps one chart per key and hands a changed figure to `Plotly.react`, which changes what
differs; a figure that has not changed (a rerun after a lasso selection) is left as drawn, with
its colour buttons and selection as the reader left them, and a new one keeps the button chosen.

It brings its own plotly.js, the copy in the plotly package (so it matches the figures the
package builds), served from the app's static folder (`server.enableStaticServing`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import weakref
from pathlib import Path

import plotly
import plotly.io as pio
import streamlit as st

_LOG = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
SCRIPT = "plotly.min.js"
JS = Path(__file__).resolve().parent / "js"  # the elements' JavaScript and style


def install_script(folder: Path = STATIC) -> Path:
    """Copy the plotly package's plotly.js into the app's static folder when it is missing or
    not this package's (a plotly upgrade). The folder is not in git: it is this copy only."""
    source = Path(plotly.__file__).parent / "package_data" / SCRIPT
    target = folder / SCRIPT
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        folder.mkdir(exist_ok=True)
        # Whole or not at all, for a browser asking meanwhile or another server copying too.
        partial = folder / f".{SCRIPT}.{os.getpid()}.partial"
        shutil.copyfile(source, partial)
        partial.replace(target)
    return target


def script_url() -> str:
    """Where the browser finds plotly.js: the app's static folder, under the server's base URL
    path when it has one (a public setting, so no guess from Streamlit's own file names)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/app/static/{SCRIPT}" if base else f"/app/static/{SCRIPT}"


def read_js(*names: str) -> str:
    """The named files of crosswalk_ui/js, joined: each element's code is its helpers' files
    followed by its own."""
    return "\n".join((JS / name).read_text(encoding="utf-8") for name in names)


try:
    install_script()
except OSError as error:  # a read-only checkout: the element says plotly.js did not load
    _LOG.warning("could not copy plotly.js into %s: %s", STATIC, error)

_element = st.components.v2.component(
    "crosswalk.plotly",
    js=read_js("plotly_load.js", "plotly_element.js"),
    css=read_js("plotly_element.css"),
    isolate_styles=False,
)

# A figure's JSON and revision, kept while the figure lives (the pages' figures are cached, so a
# rerun does not write the same JSON again).
_SPECS: dict[int, tuple[str, str]] = {}


def _spec(figure) -> tuple[str, str]:
    key = id(figure)
    if key not in _SPECS:
        text = pio.to_json(figure, validate=False)
        _SPECS[key] = (text, hashlib.blake2b(text.encode(), digest_size=8).hexdigest())
        weakref.finalize(figure, _SPECS.pop, key, None)
    return _SPECS[key]


def prepare(figure) -> None:
    """Write the figure's JSON ahead (the server's warm-up, for the first view of the Map and the
    concept graph): 30 ms for the Map's figure, otherwise spent on its first visit."""
    _spec(figure)


def plotly_chart(figure, *, key: str, selectable: bool = False) -> list:
    """Draw `figure` (a plotly figure, in its own template) under `key`. With `selectable`, return
    the `customdata` of the points the reader last selected with the lasso or box on this very
    figure (none when the figure changed since)."""
    spec, revision = _spec(figure)
    state = _element(
        key=key,
        data={
            "key": key,
            "spec": spec,
            "revision": revision,
            "selectable": selectable,
            "script": script_url(),
        },
        on_selection_change=lambda: None,
    )
    selection = state.get("selection") if state else None
    if not selection or selection.get("revision") != revision:
        return []
    return list(selection.get("points") or [])
