"""User text inside Streamlit's Markdown, drawn as the text it is (#28).

Streamlit draws Markdown in `st.markdown`, `st.caption`, headings, alerts and the labels of
expanders, tabs and widgets: a theme renamed "# Big :red[x] $x^2$ ![b](http://…)" would become a
heading in red with a formula and an image fetched from any server (a beacon that tells it who
looked). Theme names and notes, workshop questions, field labels, codebook labels, source titles
and excerpt words all reach those elements, so each goes through `plain` first.
"""

from __future__ import annotations

import re

# Every ASCII punctuation character: CommonMark lets any of them be backslash-escaped and then
# reads it as that character. Escaping them all (not a list of the special ones) also covers
# what Streamlit adds to Markdown: `$` formulas, `:red[...]` colours, `:material/...:` icons.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: object) -> str:
    """`text` as Markdown that draws exactly that text: every ASCII punctuation character
    escaped, and each line break kept as a line break (Markdown would join the lines)."""
    escaped = _PUNCTUATION.sub(r"\\\1", str(text))
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")
