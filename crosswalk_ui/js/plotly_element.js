// The plotly element (`crosswalk_ui/plotly_element.py`), after `plotly_load.js`.

// A chart's buttons keep the reader's choice when its figure changes (the Map's colour under a
// new filter): the new figure gets the restyle of the button chosen in the one it replaces, the
// same button by position and label, before it is drawn.
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

// Plotly draws a chart's buttons (the Map's colours) as SVG that the keyboard cannot reach. This
// makes each one a button in the tab order, named by its label, pressed with Enter or Space, with
// a visible focus ring (plotly_element.css); focus stays on the pressed button when plotly draws
// the buttons again. The element calls it whenever plotly changes what is in its box.
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

// The box of the chart drawn under `key`: the one the element already holds, else the chart
// this key drew when its page was last shown (kept as drawn, see `release`), else a new one.
// A kept chart is fitted to the page, which may be wider or narrower than when it was drawn.
const boxFor = (parentElement, kept, key) => {
  let box = parentElement.querySelector(".cw-plotly");
  if (box) return box;
  box = kept[key];
  delete kept[key];
  if (!box) {
    box = document.createElement("div");
    box.className = "cw-plotly";
    box.style.width = "100%";
    box.cwKeys = new MutationObserver(() => keyboardButtons(box));
  }
  parentElement.appendChild(box);
  box.cwKeys.observe(box, {childList: true, subtree: true});
  if (box.cwWidth && box.clientWidth && Math.abs(box.cwWidth - box.clientWidth) > 1) {
    box.cwWidth = box.clientWidth;
    window.Plotly.Plots.resize(box).catch(() => {});
  }
  return box;
};

// Its box says which figure it shows (`data-revision`) and, while plotly is still drawing,
// `data-busy` (the benchmark and the browser tests wait for that to go). A selection is sent
// with the revision it was made on, so that Python can ignore one made on another figure.
export default function ({parentElement, data, setStateValue}) {
  const kept = (window.__cwKept = window.__cwKept || {});
  const purge = chart => { if (window.Plotly) window.Plotly.purge(chart); };
  const box = boxFor(parentElement, kept, data.key);
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
    if (box.cwSelected || box.cwFailed || !box.cwWidth) {
      purge(box);
      delete kept[data.key];
    } else {
      kept[data.key] = box;
    }
  };
  if (box.dataset.revision === data.revision) return release;
  draw(box, data);
  return release;
}

// Draws `data.spec` in `box` with `Plotly.react`, which changes only what differs from the
// figure it shows; `box.cwWidth` is the width it was drawn at (none until it is drawn).
const draw = (box, data) => {
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
  loadPlotly(data.script).then(Plotly => Plotly.react(box, figure.data, figure.layout,
    {displaylogo: false, responsive: true}))
    .then(() => {
      box.cwWidth = box.clientWidth;
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
};
