// The prefetch element (`crosswalk_ui/prefetch.py`), after `plotly_load.js` and `plotly_warm.js`.
// Loads plotly.js and warms it once per tab (`window.__cwPrefetch`), then asks for the run that
// draws the rest. If plotly.js fails to load, the charts say so when they are drawn.
export default function ({data, setTriggerValue}) {
  let live = true;
  const ask = () => { if (live) setTriggerValue("ready", true); };
  let timer = null;
  if (data.again) {
    timer = setTimeout(ask, data.again);
  } else if (data.drawn !== undefined) {
    // Asks once the elements out of sight are there and their charts drawn.
    timer = setInterval(() => {
      const ahead = document.querySelector(".st-key-cw_ahead");
      if (!ahead || ahead.querySelector(".cw-plotly[data-busy]")) return;
      if (ahead.querySelectorAll(".cw-plotly").length < data.drawn) return;
      clearInterval(timer);
      (window.requestIdleCallback || setTimeout)(ask);
    }, 250);
  } else {
    if (!window.__cwPrefetch) {
      const idle = () => new Promise(done =>
        setTimeout(() => (window.requestIdleCallback || setTimeout)(done), data.delay));
      window.__cwPrefetch = idle().then(() => loadPlotly(data.script).then(warmPlotly))
        .catch(() => {});
    }
    if (data.ask) window.__cwPrefetch.then(ask);
  }
  return () => { live = false; clearTimeout(timer); clearInterval(timer); };
}
