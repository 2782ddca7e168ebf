"""Crosswalk's Streamlit entry point: navigation only; each page lives in crosswalk_ui/."""

import streamlit as st

from crosswalk_ui import data, pages, prefetch

st.set_page_config(page_title="Crosswalk", page_icon="🔀", layout="wide")
navigation = st.navigation(
    [
        st.Page(page.render, title=page.TITLE, url_path=page.SLUG, default=page is pages.ALL[0])
        for page in pages.ALL
    ]
)
try:
    navigation.run()
    prefetch.ready_the_browser(navigation.title, pages.ALL)
finally:
    # After the page, so the first page does not share the CPU with loading the model.
    data.warm_up_in_background()
