"""Small shared widgets: excerpts with their citations, and field names and colours."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from crosswalk_ui import charts, data, plotly_element, views
from crosswalk_ui.markup import plain

if TYPE_CHECKING:
    from pipelines.analysis.concepts import Framework

# One style sheet for the excerpt cards; it travels with each block of cards (st.html is not
# iframed, so the classes apply to the block they arrive with).
_CARD_STYLE = """<style>
.cw-card{border:1px solid rgba(128,128,128,.35);border-left-width:4px;border-radius:.5rem;
padding:.55rem .8rem;margin:0 0 .6rem 0}
.cw-text,.cw-ref,.cw-analogue{white-space:pre-wrap;overflow-wrap:anywhere}
.cw-meta{font-size:.875rem;opacity:.8;margin-top:.35rem}
.cw-card details{font-size:.875rem;margin-top:.25rem}
.cw-card summary{cursor:pointer}
.cw-analogue{font-size:.875rem;margin-top:.35rem}
.cw-columns{display:grid;gap:1rem;align-items:start}
.cw-columns h4{font-size:1.15rem;font-weight:600;margin:0 0 .5rem 0;padding:0}
.cw-note{font-size:.875rem;opacity:.8;margin:0 0 .5rem 0;white-space:pre-wrap}
</style>"""
_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}")


def on_demand(label: str, key: str, draw: Callable[[], None]) -> None:
    """An expander whose content is computed and sent only while it is open. Opening it reruns
    the page (or the fragment it is in). A closed expander still sends everything it holds: the
    Map's 10,000-row table cost 0.7 s a run to serialise even when no one opened it."""
    with st.expander(label, key=key, on_change="rerun") as box:
        if box.open:
            draw()


def chart(figure, *, key: str, selectable: bool = False) -> list:
    """A plotly figure (the map, the concept graph) as the pages draw it: in the figures' own
    template (`figures.TEMPLATE`), kept by the browser and updated in place when it changes
    (`plotly_element`). With `selectable`, the `customdata` of the points selected on it."""
    return plotly_element.plotly_chart(figure, key=key, selectable=selectable)


def prepare_chart(figure) -> None:
    """Ready a figure for `chart` ahead of the page that draws it (the server's warm-up)."""
    plotly_element.prepare(figure)


def static_table(frame, *, index: bool = True) -> None:
    """A small table read in full (`charts.table`): one element, every value escaped."""
    st.html(charts.TABLE_STYLE + charts.table(frame, index=index))


def drawing(chart_html: str) -> None:
    """A chart drawn on the server (`crosswalk_ui.charts`): one element for the browser, no chart
    library to load, and each bar or cell still shows its numbers on hover."""
    st.html(charts.STYLE + chart_html)


# The concept Compare and Concepts open on, when the frameworks have it.
DEFAULT_CONCEPT = "chime/identity"


def default_concept(options: list[str]) -> str:
    """The concept a page's concept list opens on: `DEFAULT_CONCEPT`, else its first option."""
    return DEFAULT_CONCEPT if DEFAULT_CONCEPT in options else options[0]


def field_name(field: str) -> str:
    return data.field_labels().get(field, field)


def finding_lists(found: list, *, shared: str, distinctive: str, none_shared: str) -> None:
    """The strongest shared and distinctive findings (`findings.strongest`) under the headings
    `shared` and `distinctive`, each list one Markdown block (a browser takes tens of
    milliseconds per element), every sentence as plain text; `none_shared` when none is shared."""
    from pipelines.analysis.findings import strongest

    for heading, items, empty in (
        (shared, strongest(found, "shared", 4), none_shared),
        (distinctive, strongest(found, "distinctive", 6), ""),
    ):
        st.subheader(heading)
        if items:
            st.markdown("\n".join(f"- {plain(f.sentence)}" for f in items))
        elif empty:
            st.write(empty)


def best_per_field(
    scores: np.ndarray, frame, fields: list[str], *, lived: bool, k: int = 4, empty: str = ""
) -> list[tuple[str, str, object]]:
    """Each field's best excerpts by `scores` (per row of `frame`; -inf is never shown), as
    `excerpt_columns` groups, with `empty` as the note of a field that has none; with `lived`,
    lived-experience sources only."""
    if lived:
        scores = np.where(frame["evidence_type"] == "lived_experience", scores, -np.inf)
    note = "No lived-experience source of this field here." if lived else empty
    return [
        (field_name(field), "" if len(shown) else note, shown)
        for field, chosen in views.side_by_side(scores, frame, fields, k=k).items()
        for shown in [chosen[np.isfinite(chosen["relevance"])]]
    ]


def concept_names(frameworks: list[Framework]) -> dict[str, str]:
    """Each concept's name for reading: its label, then its framework's ("Connectedness (CHIME
    personal recovery processes)"), the framework's own parentheses dropped."""
    from pipelines.analysis.findings import concept_names as named

    return named(frameworks, quoted=False)


def _meta(row, names: dict[str, str], extra: str) -> str:
    marker = " · ★ lived experience" if row.evidence_type == "lived_experience" else ""
    field = names.get(row.field, row.field)
    return f"{field} · {row.kind or 'unspecified'} · {row.short_citation}{marker}{extra}"


def card_html(
    row, names: dict[str, str], colours: dict[str, str], *, extra: str = "", analogues=()
) -> str:
    """One excerpt as HTML: its text, then field, kind, short citation and a lived-experience
    marker, the full reference on expand, and any analogues. Every value from the store is
    escaped, so excerpt text shows as text: never as HTML or Markdown."""
    colour = colours.get(row.field, "")
    colour = colour if _COLOUR.fullmatch(colour) else "#888888"
    lines = "".join(
        '<div class="cw-analogue">'
        + escape(f"↳ {names.get(a.field, a.field)} · {a.short_citation}: {a.text}")
        + "</div>"
        for a in analogues
    )
    return (
        f'<div class="cw-card" style="border-left-color:{colour}">'
        f'<div class="cw-text">{escape(row.text)}</div>'
        f'<div class="cw-meta">{escape(_meta(row, names, extra))}</div>'
        "<details><summary>Full reference</summary>"
        f'<div class="cw-ref">{escape(row.citation or "")}</div></details>{lines}</div>'
    )


def _cards(rows, extra, analogues) -> str:
    names, colours = data.field_labels(), data.field_colours()
    return "".join(
        card_html(
            row,
            names,
            colours,
            extra=extra(row) if extra else "",
            analogues=analogues(row) if analogues else (),
        )
        for row in rows.itertuples()
    )


def excerpt_cards(
    rows,
    *,
    extra: Callable[[object], str] | None = None,
    analogues: Callable[[object], Iterable] | None = None,
) -> None:
    """Excerpts (a frame of `store.excerpts` rows) as cards, drawn as one block: one element
    for the browser to draw instead of five a card, which was most of a page's drawing time."""
    cards = _cards(rows, extra, analogues)
    if cards:
        st.html(_CARD_STYLE + cards)


def excerpt_columns(
    columns: Iterable[tuple[str, str, object]],
    *,
    per_row: int = 0,
    extra: Callable[[object], str] | None = None,
    analogues: Callable[[object], Iterable] | None = None,
) -> None:
    """Groups of excerpts side by side (`per_row` to a row; all in one row by default), one group
    per (heading, note, rows), drawn as one block like `excerpt_cards`: a heading, a note (what
    the group shows, or why it is empty) and the cards. Headings and notes are escaped too."""
    columns = list(columns)
    if not columns:
        return
    groups = "".join(
        f"<div><h4>{escape(heading)}</h4>"
        + (f'<div class="cw-note">{escape(note)}</div>' if note else "")
        + _cards(rows, extra, analogues)
        + "</div>"
        for heading, note, rows in columns
    )
    grid = f"grid-template-columns:repeat({per_row or len(columns)},minmax(0,1fr))"
    st.html(f'{_CARD_STYLE}<div class="cw-columns" style="{grid}">{groups}</div>')


def awaiting_build(index) -> None:
    """Say how many excerpts the page leaves out because they await a build (ingested or
    uploaded since the last one), instead of failing over their missing embeddings."""
    from pipelines.embed.search import pending_note

    if index.pending:
        st.info(f"{pending_note(index.pending)} Until then this page leaves them out.")
