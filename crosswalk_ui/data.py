"""Cached access to the store and the current run for the pages.

Streamlit runs every script run in a thread of its own, so each thread opens its own SQLite
connection (WAL lets readers and a writer work at once); no connection is shared across threads.

What does not change between interactions is loaded or computed once per server process
(`st.cache_resource`) and keyed by what would change it: the excerpts by store version; a run's
results, tables and figures by run id (and the theme edits where they show). These objects are
shared and read-only: a page must not change them in place. (`st.cache_data` would hand every
rerun a fresh unpickled copy; at 10,000 excerpts those copies were most of an interaction's time.)

The search index and the embedding model are loaded ahead by `crosswalk_ui.warm_up`, which owns
the threads that call these wrappers off any page. Every query is a function of `pipelines.store`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import pandas as pd
import streamlit as st

from pipelines import store

# Above this many points the map draws a fixed, evenly spread sample (the page says so): a
# browser redraws 10,000 points with hover text far slower than an interaction may take, and
# 1,000 evenly spread points still show the map's shape.
MAP_POINTS = 1000
# What the map's points can be coloured by: its buttons' labels, and the columns of `map_points`.
MAP_COLOURS = {
    "field": "field name",
    "theme": "theme",
    "evidence": "evidence",
    "concept": "top concept",
}

_threads = threading.local()


def db_path() -> str:
    """The store's path: from the environment, or the one a background thread was started for."""
    return getattr(_threads, "path", None) or str(store.default_db_path())


def use_store(path: str) -> None:
    """Make `path` this thread's store, whatever the environment says later (the warm-up's thread
    reads the store its server was started on)."""
    _threads.path = path


def connection(path: str) -> sqlite3.Connection:
    """This thread's connection to the store at `path`, opened on first use."""
    opened = getattr(_threads, "connections", None)
    if opened is None:
        opened = _threads.connections = {}
    if path not in opened:
        opened[path] = store.connect(path)
    return opened[path]


def conn() -> sqlite3.Connection:
    return connection(db_path())


def store_version() -> tuple:
    """Changes whenever excerpts or runs change."""
    return store.contents_version(conn())


@st.cache_resource(show_spinner=False, max_entries=2)
def _excerpts(path: str, version: tuple) -> pd.DataFrame:
    return store.excerpts(connection(path))


def excerpts() -> pd.DataFrame:
    """Every excerpt with its source (shared: do not modify in place)."""
    return _excerpts(db_path(), store_version())


@st.cache_resource(show_spinner=False, max_entries=2)
def _facets(path: str, version: tuple) -> pd.DataFrame:
    return store.excerpt_facets(connection(path))


def facets() -> pd.DataFrame:
    """Field, source, evidence type and year of every excerpt, without text (shared): what the
    Start page counts, read before (and much faster than) the excerpts themselves."""
    return _facets(db_path(), store_version())


@st.cache_resource(show_spinner=False, max_entries=2)
def _corpus_counts(path: str, version: tuple) -> dict[str, pd.DataFrame]:
    from crosswalk_ui import views

    return views.corpus_counts(_facets(path, version))


def corpus_counts() -> dict[str, pd.DataFrame]:
    """Excerpt counts by field, evidence type and years (shared)."""
    return _corpus_counts(db_path(), store_version())


def excerpts_with_ids(ids: list[int]) -> pd.DataFrame:
    """A few excerpts with their sources, read directly (for pages that show only a few)."""
    return store.excerpts(conn(), ids=ids)


def run_id() -> int | None:
    run = store.latest_run(conn())
    return None if run is None else int(run["id"])


@st.cache_resource(show_spinner=False, max_entries=64)
def _result(path: str, run: int, name: str):
    return store.run_result(connection(path), run, name)


def result(name: str):
    """A stored result of the current run (shared: do not modify in place)."""
    run = run_id()
    return None if run is None else _result(db_path(), run, name)


@st.cache_resource(show_spinner=False, max_entries=8)
def _frameworks(path: str, run: int) -> list:
    from pipelines.analysis.contract import load_result

    return load_result(connection(path), run, "frameworks") or []


def frameworks() -> list:
    """The current run's frameworks, as `Framework` objects with their concepts (shared: do not
    modify in place)."""
    run = run_id()
    return [] if run is None else _frameworks(db_path(), run)


def theme_edits() -> tuple:
    """The user's theme renames, notes and merges, as a cache key."""
    return tuple(sorted(store.annotations(conn(), "theme:").items()))


@st.cache_resource(show_spinner=False, max_entries=8)
def _themes(path: str, run: int, edits: tuple, level: int) -> tuple[list[dict], dict[str, str]]:
    from pipelines.analysis import results

    return results.effective_themes(connection(path), run, level=level)


def themes(level: int = 2) -> tuple[list[dict], dict[str, str]]:
    """The current run's themes of one level (2 fine, 1 broad) with the user's edits applied, and
    each excerpt's theme key; cached until the run or an edit changes."""
    return _themes(db_path(), run_id(), theme_edits(), level)


@st.cache_resource(show_spinner=False, max_entries=8)
def _findings(path: str, run: int, edits: tuple) -> list:
    from pipelines.analysis import findings, results
    from pipelines.analysis.contract import THEME_BROAD

    connection_ = connection(path)
    fine, _ = results.themes_with_edits(connection_, run)
    broad, _ = results.themes_with_edits(connection_, run, level=THEME_BROAD)
    labels = store.field_labels(connection_)
    order = _run_fields(path, run)
    concept_labels = findings.concept_names(_frameworks(path, run))
    judged = store.run_result(connection_, run, "concept_verdicts") or []
    return findings.theme_findings(broad, fine, labels, len(order)) + findings.concept_findings(
        judged, concept_labels, order, labels
    )


def findings() -> list:
    """The run's findings as sentences (`pipelines.analysis.findings`), themes then concepts."""
    return _findings(db_path(), run_id(), theme_edits())


@st.cache_resource(show_spinner=False, max_entries=8)
def _run_fields(path: str, run: int) -> list[str]:
    kinds = _result(path, run, "excerpt_fields") or {}
    present = {field for field, _kind in kinds.values()}
    return [f for f in store.fields(connection(path))["slug"] if f in present]


def run_fields() -> list[str]:
    """The fields of the current run's excerpts, in the store's order (shared)."""
    return _run_fields(db_path(), run_id())


@st.cache_resource(show_spinner=False, max_entries=16)
def _findings_among(path: str, run: int, edits: tuple, fields: tuple) -> list:
    from pipelines.analysis import findings, results
    from pipelines.analysis.contract import THEME_BROAD

    connection_ = connection(path)
    return findings.findings_among(
        list(fields),
        fine=results.themes_with_edits(connection_, run),
        broad=results.themes_with_edits(connection_, run, level=THEME_BROAD),
        excerpt_fields=_result(path, run, "excerpt_fields") or {},
        concept_counts=_result(path, run, "coverage_counts") or {},
        concept_labels=findings.concept_names(_frameworks(path, run)),
        field_labels=store.field_labels(connection_),
    )


def findings_among(fields: list[str]) -> list:
    """The findings of these fields alone, each theme and concept judged on their excerpts
    (`findings.findings_among`; shared)."""
    return _findings_among(db_path(), run_id(), theme_edits(), tuple(fields))


def field_labels() -> dict[str, str]:
    return store.field_labels(conn())


def field_colours() -> dict[str, str]:
    return store.field_colours(conn())


def model_id() -> str | None:
    run = store.latest_run(conn())
    return None if run is None else run["model_id"]


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder(model: str):
    from pipelines.embed.embedders import get_embedder

    return get_embedder(model)


@st.cache_resource(show_spinner=False, max_entries=256)
def _encoded(model: str, text: str):
    return embedder(model).encode([text])[0]


def encode(text: str):
    """The current model's vector for `text`, computed once per text."""
    return _encoded(model_id(), text)


@st.cache_resource(show_spinner="Loading the search index…", max_entries=2)
def _index(path: str, version: tuple, model: str):
    from pipelines.embed.search import Index

    return Index.load(connection(path), model, frame=_excerpts(path, version))


def index():
    """The search index over the current excerpts and model (shared: do not modify)."""
    return _index(db_path(), store_version(), model_id())


# --- per-run tables and figures ------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=64)
def _figure(key: tuple, _build: Callable[[], object]):
    # `_build` is left out of the cache key (Streamlit skips arguments named with a leading _).
    return _build()


def figure(name: str, *params, build: Callable[[], object]):
    """`build()`, made once for `name` and `params` and for the store's current contents (store
    version, run, theme edits, field labels and colours), then shared: do not modify it. A
    plotly figure took 0.1-0.2 s to build on the server, on every rerun of its page. `params`
    must name everything else the figure depends on."""
    context = (
        db_path(),
        store_version(),
        run_id(),
        theme_edits(),
        tuple(field_labels().items()),
        tuple(field_colours().items()),
    )
    return _figure((name, *params, *context), build)


@st.cache_resource(show_spinner=False, max_entries=2)
def _map_points(path: str, version: tuple, run: int, edits: tuple, labels: tuple) -> pd.DataFrame:
    from crosswalk_ui import views

    found, mapped = _themes(path, run, edits, 2)
    return views.map_points(
        _excerpts(path, version),
        _result(path, run, "layout"),
        found,
        mapped,
        _result(path, run, "tags") or {},
        dict(labels),
    )


def map_points() -> pd.DataFrame:
    """One row per excerpt on the map with everything it can be coloured by (shared)."""
    return _map_points(
        db_path(), store_version(), run_id(), theme_edits(), tuple(field_labels().items())
    )


@st.cache_resource(show_spinner=False, max_entries=16)
def _map_figure(
    path: str,
    version: tuple,
    run: int,
    edits: tuple,
    labels: tuple,
    fields: tuple,
    evidence: tuple,
    colours: tuple,
):
    from crosswalk_ui import figures, views

    points = _map_points(path, version, run, edits, labels)
    shown = views.filter_points(points, fields=fields, evidence_types=evidence)
    sample = views.even_sample(shown, MAP_POINTS)
    figure = figures.excerpt_map(
        sample, colour_by=MAP_COLOURS, colours={"field name": dict(colours)}, title=""
    )
    return shown, sample, figure


def map_figure(fields: list[str], evidence: list[str]):
    """The filtered points, the sample of them drawn, and the map figure (shared)."""
    labels = field_labels()
    colours = tuple((labels.get(f, f), c) for f, c in field_colours().items())
    return _map_figure(
        db_path(),
        store_version(),
        run_id(),
        theme_edits(),
        tuple(labels.items()),
        tuple(fields),
        tuple(evidence),
        colours,
    )


@st.cache_resource(show_spinner=False, max_entries=8)
def _tool_lens(path: str, run: int, edits: tuple, tool_id: str) -> pd.DataFrame:
    from crosswalk_ui import views

    found, mapped = _themes(path, run, edits, 2)
    tool = next(f for f in _frameworks(path, run) if f.id == tool_id)
    return views.tool_lens(found, mapped, _result(path, run, "tags") or {}, tool)


def tool_lens(tool_id: str) -> pd.DataFrame:
    """Which themes an outcome tool covers (shared)."""
    return _tool_lens(db_path(), run_id(), theme_edits(), tool_id)


@st.cache_resource(show_spinner=False, max_entries=64)
def _concept_scores(path: str, version: tuple, run: int, concept: str):
    from crosswalk_ui import views

    return views.concept_scores(_result(path, run, "tags") or {}, _excerpts(path, version), concept)


def concept_scores(concept: str):
    """Per excerpt (in `excerpts()` order): the concept's tag score, or -inf (shared)."""
    return _concept_scores(db_path(), store_version(), run_id(), concept)


@st.cache_resource(show_spinner=False, max_entries=4)
def _concept_graph(path: str, run: int, labels: tuple, colours: tuple):
    from crosswalk_ui import figures

    nodes, edges = figures.graph_tables(
        _result(path, run, "graph"), _result(path, run, "graph_layout"), dict(labels)
    )
    figure = figures.concept_graph_figure(
        nodes, edges, colours=dict(colours), title="The crosswalk"
    )
    return nodes, edges, figure


def concept_graph(colours: dict[str, str]):
    """The crosswalk graph's node and edge tables and its figure (shared)."""
    return _concept_graph(
        db_path(), run_id(), tuple(field_labels().items()), tuple(colours.items())
    )


def require_run() -> bool:
    """Show how to build when there is no analysis yet; True if there is one."""
    if run_id() is None:
        st.info(
            "No analysis yet. Build one with `python -m pipelines build` or on the Corpus page."
        )
        return False
    return True
