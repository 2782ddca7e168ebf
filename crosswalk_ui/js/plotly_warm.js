// The first chart a browser tab draws pays for plotly compiling the code it runs; a later chart
// of the same kinds does not. The prefetch on the first page draws a small chart of the kinds the
// app draws (points coloured one by one, lines, text, buttons, a note, a legend) out of sight
// while the reader reads, and removes it. Plotly clears the pending throttles of every chart in
// the tab whenever it draws a new chart or purges one (`Plots.purge`), and a lasso being drawn on
// the Map then never reports its selection. So when the page already shows a chart (the first
// page can be the Map), plotly is warm and nothing is drawn; and the warm chart is removed
// without a purge (drawn without `responsive`, it leaves no listener on the window).
const warmPlotly = Plotly => {
  if (document.querySelector(".cw-plotly[data-revision]")) { window.__cwPlotlyWarmed = true; return; }
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
