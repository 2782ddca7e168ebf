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


# Loads plotly.js once per browser tab, wherever it is asked for first (a chart, or the prefetch
# on the first page): `window.__cwPlotly` is a promise of it. The URL is found from Streamlit's
# own script, so an app served under a base path finds it too.
LOAD_PLOTLY = """
const loadPlotly = () => {
  if (!window.__cwPlotly) {
    const index = document.querySelector('script[type="module"][src*="/static/js/index."]');
    const url = index ? new URL("../../app/static/SCRIPT", index.src).href : "/app/static/SCRIPT";
    window.__cwPlotly = new Promise((done, failed) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => done(window.Plotly);
      script.onerror = () => { window.__cwPlotly = null; failed(new Error(url)); };
      document.head.appendChild(script);
    });
  }
  return window.__cwPlotly;
};
""".replace("SCRIPT", SCRIPT)

# The first chart a browser tab draws pays for plotly compiling the code it runs; a later chart
# of the same kinds does not. The prefetch on the first page draws a small chart of the kinds the
# app draws (points coloured one by one, lines, text, buttons, a note, a legend) out of sight
# while the reader reads, and removes it. (No markup in it: inside `st.html`, a "<" in a script
# stopped the whole script from running.) Plotly clears the pending throttles of every chart in
# the tab whenever it draws a new chart or purges one (`Plots.purge`), and a lasso being drawn on
# the Map then never reports its selection. So when the page already shows a chart (the first
# page can be the Map), plotly is warm and nothing is drawn; and the warm chart is removed
# without a purge (drawn without `responsive`, it leaves no listener on the window).
WARM_PLOTLY = """
const warmPlotly = Plotly => {
  if (document.querySelector(".cw-plotly .main-svg")) { window.__cwPlotlyWarmed = true; return; }
  const box = document.createElement("div");
  box.className = "cw-plotly-warm";
  box.style.cssText = "position:absolute;left:-10000px;top:0;width:800px;height:500px;visibility:hidden";
  document.body.appendChild(box);
  const xs = [...Array(60).keys()];
  const points = {type: "scatter", mode: "markers", x: xs, y: xs.map(x => x % 7), customdata: xs,
    text: xs.map(String), hovertext: xs.map(String), showlegend: false,
    hovertemplate: "%{hovertext}: %{text}",
    marker: {size: 7, opacity: 0.8, color: xs.map(x => x % 2 ? "#0072B2" : "#E69F00")}};
  const lines = {type: "scatter", mode: "lines", x: [0, 9, null, 3, 5], y: [0, 6, null, 1, 2],
    line: {width: 0.6, dash: "dot"}, hoverinfo: "skip", name: "link"};
  const named = {type: "scatter", mode: "markers+text", x: [1, 2], y: [3, 4], text: ["a", "b"],
    textposition: "top center", name: "key", marker: {size: 12}};
  const layout = {height: 500, dragmode: "lasso", xaxis: {visible: false}, yaxis: {visible: false},
    legend: {orientation: "h", itemclick: false}, showlegend: true,
    annotations: [{text: "note", x: 0, y: 1, xref: "paper", yref: "paper", showarrow: false}],
    updatemenus: [{type: "buttons", direction: "right", active: 0, buttons: [
      {label: "one", method: "restyle", args: [{"marker.color": [["#000"]]}]},
      {label: "two", method: "restyle", args: [{"marker.color": [["#fff"]]}]}]}]};
  return Plotly.newPlot(box, [points, lines, named], layout, {displaylogo: false})
    .then(() => Plotly.react(box, [points, lines], layout))
    .finally(() => { box.remove(); window.__cwPlotlyWarmed = true; });
};
"""

# A chart's buttons keep the reader's choice when its figure changes (the Map's colour under a
# new filter): the new figure gets the restyle of the button chosen in the one it replaces, the
# same button by position and label, before it is drawn.
KEEP_CHOICES = """
const keepChoices = (box, figure) => {
  const before = (box.layout && box.layout.updatemenus) || [];
  (figure.layout.updatemenus || []).forEach((menu, i) => {
    const active = before[i] && before[i].active;
    const button = active && menu.buttons && menu.buttons[active];
    const same = button && before[i].buttons && before[i].buttons[active];
    if (!button || button.method !== "restyle" || !same || same.label !== button.label) return;
    for (const [path, values] of Object.entries(button.args[0])) {
      const keys = path.split(".");
      figure.data.forEach((trace, t) => {
        let at = trace;
        for (const key of keys.slice(0, -1)) at = at[key] = at[key] || {};
        at[keys[keys.length - 1]] = Array.isArray(values) ? values[t % values.length] : values;
      });
    }
    menu.active = active;
  });
};
"""

# Plotly draws a chart's buttons (the Map's colours) as SVG that the keyboard cannot reach. This
# makes each one a button in the tab order, named by its label, pressed with Enter or Space, with
# a visible focus ring (`_CSS`); focus stays on the pressed button when plotly draws the buttons
# again. The element calls it whenever plotly changes what is in its box.
KEYBOARD_BUTTONS = """
const keyboardButtons = box => {
  box.querySelectorAll(".updatemenu-button:not([tabindex])").forEach(button => {
    const label = button.textContent.trim();
    button.setAttribute("tabindex", "0");
    button.setAttribute("role", "button");
    button.setAttribute("aria-label", label);
    button.addEventListener("keydown", event => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      box.cwPressed = label;
      button.dispatchEvent(new MouseEvent("click", {bubbles: true}));
      if (button.isConnected) { box.cwPressed = null; button.focus(); }
    });
    if (box.cwPressed === label) { box.cwPressed = null; button.focus(); }
  });
};
"""
_CSS = ".cw-plotly .updatemenu-button:focus-visible{outline:2px solid #0072B2;outline-offset:1px}"

# The element. Its box says which figure it shows (`data-revision`) and, while plotly is still
# drawing, `data-busy` (the benchmark and the browser tests wait for that to go). A selection is
# sent with the revision it was made on, so that Python can ignore one made on another figure.
_JS = (
    "export default function ({parentElement, data, setStateValue}) {\n"
    + LOAD_PLOTLY
    + KEEP_CHOICES
    + KEYBOARD_BUTTONS
    + """
  const kept = (window.__cwKept = window.__cwKept || {});
  const purge = chart => { if (window.Plotly) window.Plotly.purge(chart); };
  let box = parentElement.querySelector(".cw-plotly");
  if (!box) {
    // The chart this key drew when its page was last shown, kept as drawn (see `release`).
    box = kept[data.key];
    delete kept[data.key];
    if (!box) {
      box = document.createElement("div");
      box.className = "cw-plotly";
      box.style.width = "100%";
      box.cwKeys = new MutationObserver(() => keyboardButtons(box));
    }
    parentElement.appendChild(box);
    box.cwKeys.observe(box, {childList: true, subtree: true});
    // The page may be wider or narrower than when the chart was drawn.
    const drawn = box._fullLayout && box._fullLayout.width;
    if (drawn && box.clientWidth && Math.abs(drawn - box.clientWidth) > 1) {
      window.Plotly.Plots.resize(box).catch(() => {});
    }
  }
  box.cwSend = setStateValue;
  // Streamlit calls this when the element goes (another page). The chart is kept, detached and
  // as drawn, one per key in this tab, so that coming back to the page shows it without plotly
  // drawing it again (0.25-0.4 s for the Map); a changed figure then updates it in place. A chart
  // with a selection is let go instead: Python forgets the selection with the page, so the chart
  // must not show one. Letting go purges it, its listeners on the window among it.
  const release = () => {
    box.cwKeys.disconnect();
    box.remove();
    const before = kept[data.key];
    if (before && before !== box) purge(before);
    if (box.cwSelected || box.cwFailed || !box._fullLayout) {
      purge(box);
      delete kept[data.key];
    } else {
      kept[data.key] = box;
    }
  };
  if (box.dataset.revision === data.revision) return release;
  const revision = data.revision;
  box.dataset.revision = revision;
  box.dataset.busy = "1";
  const figure = JSON.parse(data.spec);
  box.style.height = (figure.layout.height || 450) + "px";
  keepChoices(box, figure);
  const frame = () => new Promise(done => requestAnimationFrame(done));
  const select = points => {
    box.cwSelected = points.length > 0;
    box.cwSend("selection", {revision: box.dataset.revision, points});
  };
  loadPlotly().then(Plotly => Plotly.react(box, figure.data, figure.layout,
    {displaylogo: false, responsive: true}))
    .then(() => {
      if (data.selectable && !box.cwListening) {
        box.cwListening = true;
        box.on("plotly_selected", event => {
          if (event) select(event.points.map(p => p.customdata).filter(c => c !== undefined));
        });
        box.on("plotly_deselect", () => select([]));
      }
      // A selection made on the figure this one replaces no longer shows: say so to Python.
      if (box.cwSelected) select([]);
    })
    .catch(error => {
      box.cwFailed = true;
      box.style.height = "auto";
      box.textContent = "The chart could not be drawn (" + error.message + "). If its drawing " +
        "library, plotly.js, did not load, start the app with `make run`, which serves it.";
    })
    .then(frame).then(frame)
    .then(() => { if (box.dataset.revision === revision) delete box.dataset.busy; });
  return release;
}
"""
)

try:
    install_script()
except OSError as error:  # a read-only checkout: the element says plotly.js did not load
    _LOG.warning("could not copy plotly.js into %s: %s", STATIC, error)

_element = st.components.v2.component("crosswalk.plotly", js=_JS, css=_CSS, isolate_styles=False)

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
        data={"key": key, "spec": spec, "revision": revision, "selectable": selectable},
        on_selection_change=lambda: None,
    )
    selection = state.get("selection") if state else None
    if not selection or selection.get("revision") != revision:
        return []
    return list(selection.get("points") or [])
