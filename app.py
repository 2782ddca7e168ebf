"""Crosswalk's Streamlit entry point: navigation only; each page lives in crosswalk_ui/."""

import streamlit as st

from crosswalk_ui import pages, prefetch, warm_up

st.set_page_config(page_title="Crosswalk", page_icon="🔀", layout="wide")
navigation = st.navigation(pages.navigation())
try:
    navigation.run()
    prefetch.ready_the_browser(navigation.title, pages.ALL)
finally:
    # After the page, so the first page does not share the CPU with loading the model.
    warm_up.warm_up_in_background()
