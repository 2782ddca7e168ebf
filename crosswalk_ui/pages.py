"""The app's pages in navigation order; adding a page is one module plus one line in each list."""

from __future__ import annotations

import streamlit as st

from crosswalk_ui import (
    compare_page,
    concepts_page,
    excerpts_page,
    map_page,
    search_page,
    start_page,
    themes_page,
    workshop_page,
)

# The page modules (each has TITLE, SLUG and render(), and may have warm() for the warm-up).
ALL = [
    start_page,
    compare_page,
    themes_page,
    map_page,
    concepts_page,
    search_page,
    workshop_page,
    excerpts_page,
]


# Streamlit serves the default page at / only, yet hashes it by its url_path, which no URL then
# reaches: the Start page keeps this one, and a hidden page answers at /start (#28).
ROOT_URL_PATH = "start-at-root"


def navigation() -> list[st.Page]:
    """The pages for `st.navigation`, the first one the default, then the Start page again at
    /start, hidden from the menu. Made in each script run: a page made outside one is an empty
    shell (Streamlit reads the run's context to make it)."""
    return [
        st.Page(start_page.render, title=start_page.TITLE, url_path=ROOT_URL_PATH, default=True),
        st.Page(compare_page.render, title=compare_page.TITLE, url_path=compare_page.SLUG),
        st.Page(themes_page.render, title=themes_page.TITLE, url_path=themes_page.SLUG),
        st.Page(map_page.render, title=map_page.TITLE, url_path=map_page.SLUG),
        st.Page(concepts_page.render, title=concepts_page.TITLE, url_path=concepts_page.SLUG),
        st.Page(search_page.render, title=search_page.TITLE, url_path=search_page.SLUG),
        st.Page(workshop_page.render, title=workshop_page.TITLE, url_path=workshop_page.SLUG),
        st.Page(excerpts_page.render, title=excerpts_page.TITLE, url_path=excerpts_page.SLUG),
        st.Page(
            start_page.render, title=start_page.TITLE, url_path=start_page.SLUG, visibility="hidden"
        ),
    ]
