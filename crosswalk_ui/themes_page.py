"""Themes: the tree of broad themes and the fine themes within them; either level's themes with
their composition, verdict, stability, terms, concepts and examples; rename, merge and annotate at
either level (edits persist across rebuilds)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crosswalk_ui import charts, data, views
from crosswalk_ui.components import (
    best_per_field,
    concept_names,
    drawing,
    excerpt_columns,
    field_name,
    on_demand,
)
from crosswalk_ui.markup import plain
from pipelines.analysis import incremental, results

TITLE = "Themes"
SLUG = "themes"


def render() -> None:
    st.title(TITLE)
    if not data.require_run():
        return
    notice = incremental.rebuild_notice(data.conn(), data.run_id())
    if notice:
        st.warning(notice)
    frame = data.excerpts()
    _tree()
    level = st.radio(
        "Level",
        [2, 1],
        format_func=lambda n: "Fine themes" if n == 2 else "Broad themes",
        horizontal=True,
        key="themes_level",
    )
    themes, _ = data.themes(level)
    summary = pd.DataFrame(
        [
            {
                "theme": t["theme_key"],
                "label": t["label"],
                "size": t["size"],
                "verdict": _verdict(t),
                "stability": t["stability"],
                "fragile": "fragile" if t["fragile"] else "",
                "key terms": ", ".join(t["key_terms"][:6]),
            }
            for t in themes
        ]
    )
    st.caption(
        "Stability is how often a theme re-forms when the corpus is resampled (1 = always); below 0.6 it is marked fragile. "
        "Verdicts: shared (every field at about its base rate), distinctive (one field over-represented), mixed (anything else)."
    )
    # The verdict names the field of a distinctive theme: wide enough to read it whole.
    st.dataframe(
        summary,
        hide_index=True,
        key="themes_table",
        column_config={"verdict": st.column_config.TextColumn(width="medium")},
    )
    names = {t["theme_key"]: f"{t['theme_key']}: {t['label']}" for t in themes}
    _theme(themes, names, frame, level)


def _tree() -> None:
    """The broad themes, each with the fine themes inside it, as one table."""
    broad, _ = data.themes(1)
    fine, _ = data.themes(2)
    if not broad:
        return
    st.subheader("Broad themes and the themes within them")
    rows = []
    for b in sorted(broad, key=lambda t: -t["size"]):
        rows.append(_tree_row(b, b["label"], ""))
        for f in sorted(
            (f for f in fine if f.get("parent") == b["theme_key"]), key=lambda t: -t["size"]
        ):
            rows.append(_tree_row(f, "", f["label"]))
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="themes_tree",
        column_config={
            "broad theme": st.column_config.TextColumn(width="medium"),
            "theme within it": st.column_config.TextColumn(width="medium"),
            "verdict": st.column_config.TextColumn(width="medium"),
        },
    )


def _tree_row(theme: dict, broad: str, fine: str) -> dict:
    return {
        "broad theme": broad,
        "theme within it": fine,
        "key": theme["theme_key"],
        "size": theme["size"],
        "verdict": _verdict(theme),
        "stability": theme["stability"],
        "fragile": "fragile" if theme["fragile"] else "",
    }


def _verdict(theme: dict) -> str:
    """The verdict, with the field of a distinctive theme by name."""
    field = theme["verdict_field"]
    return theme["verdict"] + (f" ({field_name(field)})" if field else "")


@st.fragment
def _theme(themes: list[dict], names: dict[str, str], frame: pd.DataFrame, level: int) -> None:
    """A fragment: choosing a theme reruns only its details, not the table of all themes. Saving
    an edit reruns the whole page, so the table shows it too."""
    key = st.selectbox("Theme", list(names), format_func=names.get, key="themes_choice")
    theme = next(t for t in themes if t["theme_key"] == key)
    st.header(plain(theme["label"]))
    if theme["label"] != theme["machine_label"]:
        st.caption(f"Renamed; the analysis labelled it “{plain(theme['machine_label'])}”.")
    if theme["merged_from"]:
        st.caption("Merged from: " + plain(", ".join(theme["merged_from"])))
    if theme["note"]:
        st.info(plain(theme["note"]))
    composition = views.theme_composition(
        data.result("composition" if level == 2 else "broad_composition") or [], key
    )
    left, right = st.columns([3, 2])
    with left:
        if not composition.empty:
            drawing(
                data.figure(
                    "theme_composition",
                    key,
                    level,
                    build=lambda: charts.stacked_bars(
                        composition,
                        x="field",
                        stack="field",
                        colours=data.field_colours(),
                        labels=data.field_labels(),
                        title="Excerpts by field",
                        x_title="field",
                    ),
                )
            )
    with right:
        field = theme["verdict_field"]
        st.markdown(
            f"**Verdict: {plain(theme['verdict'])}** {('— ' + plain(field_name(field))) if field else ''}"
        )
        st.text(theme["verdict_reason"])
        st.text(
            f"Stability {theme['stability']:.2f}{' (fragile)' if theme['fragile'] else ''} · {theme['size']} excerpts"
        )
        st.text("Key terms: " + ", ".join(theme["key_terms"]))
        st.text(_concepts_line(theme.get("concepts", []), concept_names(data.frameworks())))
    on_demand(
        "The numbers behind the verdict",
        "themes_composition_open",
        lambda: st.dataframe(
            composition.assign(field=composition["field"].map(field_name))
            if not composition.empty
            else composition,
            hide_index=True,
            key="themes_composition_table",
        ),
    )
    _representatives(theme, key, frame, level)
    _edit(theme, key, names)


def _representatives(theme: dict, key: str, frame: pd.DataFrame, level: int) -> None:
    """The theme's representative excerpts per field, or its lived-experience ones."""
    st.subheader("Representative excerpts per field")
    if st.toggle("Lived-experience sources only", key="themes_lived"):
        # The theme's lived-experience members of each field closest to its centre (definitions
        # first among them, as on Compare).
        index = data.index()
        scores = views.theme_scores(data.themes(level)[1], index.frame, key, index.vectors)
        fields = [f for f, ids in theme["representatives"].items() if ids]
        columns = best_per_field(scores, index.frame, fields, lived=True, k=3)
    else:
        columns = [
            (field_name(field), "", frame[frame["excerpt_id"].isin(ids)])
            for field, ids in theme["representatives"].items()
            if ids
        ]
    excerpt_columns(columns, per_row=1)


def _edit(theme: dict, key: str, names: dict[str, str]) -> None:
    """Rename and annotate the theme, or merge it into another (each reruns the whole page)."""
    st.subheader("Edit")
    with st.form("themes_rename_form"):
        label = st.text_input("Name", value=theme["label"], key="themes_rename")
        note = st.text_area("Note", value=theme["note"], key="themes_note")
        if st.form_submit_button("Save name and note"):
            results.rename_theme(
                data.conn(), key, None if label == theme["machine_label"] else label
            )
            results.annotate_theme(data.conn(), key, note)
            st.rerun()
    others = [k for k in names if k != key]
    target = st.selectbox(
        "Merge this theme into", others, format_func=names.get, key="themes_merge_target"
    )
    if st.button("Merge", key="themes_merge") and target:
        results.merge_themes(data.conn(), key, target)
        st.rerun()


def _concepts_line(concepts: list, names: dict[str, str]) -> str:
    """The concepts most often tagged in the theme, by name, each with the share of the theme's
    excerpts that carry it."""
    if not concepts:
        return "Concepts: none of the frameworks' concepts is tagged in this theme."
    shown = "".join(f"\n· {names.get(key, key)}: {share:.0%}" for key, share in concepts)
    return f"Concepts (share of the theme's excerpts tagged):{shown}"
