"""The pages in navigation order; adding a page is one module plus one line here."""

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
