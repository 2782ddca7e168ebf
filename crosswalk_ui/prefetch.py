"""What a session's first page readies in the browser for the other pages, while the reader reads it.

A page's first visit in a browser tab cost 550-700 ms where later visits cost 300-450: the
browser loads the code of elements it has not drawn yet, runs that code for the first time
(slowly, before it is compiled for speed), and plotly draws the Map's and the graph's figures
from nothing. So, a moment after the first page has been drawn and when the browser is idle:

1. the browser loads plotly.js and draws a small plotly chart out of sight (`js/plotly_warm.js`);
2. on the Start page (the app's first page, where readers arrive), it then asks for one more run
   of the page, which adds out of sight one element of each kind the other pages show
   (`_out_of_sight`) and the charts the Map and Concepts open on (each page's `chart_ahead()`).
   While the server is still computing those charts (it has just started), the browser asks
   again every `POLL_MS`, at most `POLLS` times;
3. once the browser has drawn them, it asks for a last run, which takes them away: the browser
   keeps each chart (`plotly_element`), so the first visit to the Map or Concepts shows it as
   drawn, and the next page's first visit does not pay for taking them away (0.1 s and more).

Only while the reader stays on the session's first page. A reader who arrives on another page
(a link to it) gets step 1 only: the runs of steps 2 and 3 would rerun a heavier page, and
plotly drawing a chart drops a lasso selection in progress on the Map.

Everything here is Streamlit's public API: the browser meets the other pages' elements by
drawing them (step 2). It once also loaded Streamlit's code for them by the file names of its
static JavaScript; measured against the same app without that (benchmarks/results/app.md),
it made no target's difference, and a Streamlit upgrade could have broken it unseen.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crosswalk_ui import plotly_element, warm_up

DELAY_MS = 1500
POLL_MS = 2000
POLLS = 15
KEY = "cw_prefetch"
_STATE = "_cw_prefetch"  # the session's progress: its first page, stage, polls, and a new ask
_STYLE = (
    "<style>.st-key-cw_ahead{height:0;overflow:hidden;visibility:hidden;"
    "pointer-events:none;margin-top:-1rem}</style>"
)

_element = st.components.v2.component(
    "crosswalk.prefetch",
    js=plotly_element.read_js("plotly_load.js", "plotly_warm.js", "prefetch.js"),
)


def _asked() -> None:
    st.session_state[_STATE]["asked"] = True


def ready_the_browser(page: str, pages) -> None:
    """Called after each run's page (`page`, its title); `pages` are the app's page modules, the
    first of them the Start page. The session's progress goes from "load" (step 1, and the polls
    of step 2) to "draw" (steps 2-3) to "done"."""
    state = st.session_state.setdefault(
        _STATE, {"page": page, "stage": "load", "asked": False, "polls": 0}
    )
    if state["stage"] == "done":
        return
    if state["page"] != page:  # the reader has moved on: nothing more to ready
        state["stage"] = "done"
        return
    asked, state["asked"] = state["asked"], False
    if state["stage"] == "load" and not asked:
        start = {
            "script": plotly_element.script_url(),
            "delay": DELAY_MS,
            "ask": page == pages[0].TITLE,
        }
        _element(key=KEY, data=start, on_ready_change=_asked)
        return
    if state["stage"] == "draw":
        if asked:
            state["stage"] = "done"
            return
    elif not warm_up.warmed_up() and state["polls"] < POLLS:
        state["polls"] += 1
        # The poll's number makes each poll's data new, so that the browser sees each one.
        _element(key=KEY, data={"again": POLL_MS, "poll": state["polls"]}, on_ready_change=_asked)
        return
    state["stage"] = "draw"
    charts = [p.chart_ahead() for p in pages if hasattr(p, "chart_ahead")]
    charts = [chart for chart in charts if chart]
    _element(key=KEY, data={"drawn": len(charts)}, on_ready_change=_asked)
    with st.container(key="cw_ahead"):
        st.html(_STYLE)
        _out_of_sight()
        # Under the page's own key, by which the browser keeps the chart for the page. (The page
        # still sends its figure, Streamlit's message being another page's element; the browser
        # sees the same revision and leaves the chart as drawn.)
        for key, figure, selectable in charts:
            plotly_element.plotly_chart(figure, key=key, selectable=selectable)


def _out_of_sight() -> None:
    """One element of each kind the other pages show and the first page may not, so that the
    browser has run their code once before a page needs it (a page's first visit took 140-180 ms
    more without). The reader never sees them, and the last run takes them away."""
    table = pd.DataFrame({"field": ["a", "b"], "n": [1, 2]})
    st.multiselect("ahead", ["a", "b"], default=["a"], key="cw_ahead_multiselect")
    st.radio("ahead", ["a", "b"], horizontal=True, key="cw_ahead_radio")
    st.selectbox("ahead", ["a", "b"], key="cw_ahead_selectbox")
    st.text_input("ahead", key="cw_ahead_text_input")
    st.text_area("ahead", key="cw_ahead_text_area")
    st.number_input("ahead", key="cw_ahead_number")
    st.checkbox("ahead", key="cw_ahead_checkbox")
    st.toggle("ahead", key="cw_ahead_toggle")
    st.button("ahead", key="cw_ahead_button")
    st.dataframe(table, hide_index=True)
    st.header("ahead")
    st.subheader("ahead")
    st.caption("ahead")
    st.text("ahead")
    st.markdown("**ahead** _ahead_")
    st.info("ahead")
