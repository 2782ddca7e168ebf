// Loads plotly.js once per browser tab, wherever it is asked for first (a chart, or the prefetch
// on the first page): `window.__cwPlotly` is a promise of it. `url` comes from Python
// (`plotly_element.script_url`, which follows the server's base URL path).
const loadPlotly = url => {
  if (!window.__cwPlotly) {
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
