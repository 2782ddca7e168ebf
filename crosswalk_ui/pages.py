"""The pages in navigation order; adding a page is one module plus one line here."""

from crosswalk_ui import excerpts_page

ALL = [excerpts_page]
