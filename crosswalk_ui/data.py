"""Cached access to the store and the current run for the pages.

The model and the search index are loaded once (`st.cache_resource`) and the connection once per
thread; tables are cached per store version, so a new ingest or run from the CLI shows up without
a restart.
"""

from __future__ import annotations

import threading

import pandas as pd
import streamlit as st

from pipelines import results, store
from pipelines.embed import get_embedder
from pipelines.search import Index


def db_path() -> str:
    return str(store.default_db_path())


_connections = threading.local()


def connection(path: str):
    """This thread's connection to the store. Streamlit runs sessions in separate threads, and a
    SQLite connection holds one transaction at a time: sessions sharing one connection failed
    with "cannot start a transaction within a transaction" when two wrote at once."""
    by_path = _connections.__dict__.setdefault("by_path", {})
    if path not in by_path:
        by_path[path] = store.connect(path)
    return by_path[path]


def conn():
    return connection(db_path())


def store_version() -> tuple:
    """Changes whenever excerpts or runs change."""
    row = (
        conn()
        .execute(
            "SELECT (SELECT COUNT(*) FROM excerpts), (SELECT MAX(id) FROM excerpts), "
            "(SELECT MAX(id) FROM runs WHERE status = 'complete')"
        )
        .fetchone()
    )
    return tuple(row)


@st.cache_data(show_spinner=False)
def _excerpts(path: str, version: tuple) -> pd.DataFrame:
    return store.excerpts(connection(path))


def excerpts() -> pd.DataFrame:
    return _excerpts(db_path(), store_version())


def run_id() -> int | None:
    run = store.latest_run(conn())
    return None if run is None else int(run["id"])


@st.cache_data(show_spinner=False, max_entries=64)
def _result(path: str, run: int, name: str):
    return store.run_result(connection(path), run, name)


def result(name: str):
    run = run_id()
    return None if run is None else _result(db_path(), run, name)


@st.cache_data(show_spinner=False, max_entries=8)
def _themes(path: str, run: int, edits: tuple) -> tuple[list[dict], dict[str, str]]:
    return results.effective_themes(connection(path), run)


def themes() -> tuple[list[dict], dict[str, str]]:
    """The current run's themes with the user's edits applied; cached until the run or an edit
    changes."""
    edits = tuple(sorted(store.annotations(conn(), "theme:").items()))
    return _themes(db_path(), run_id(), edits)


def field_labels() -> dict[str, str]:
    return store.field_labels(conn())


def field_colours() -> dict[str, str]:
    return store.field_colours(conn())


def model_id() -> str | None:
    run = store.latest_run(conn())
    return None if run is None else run["model_id"]


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder(model: str):
    return get_embedder(model)


@st.cache_resource(show_spinner="Loading the search index…", max_entries=2)
def _index(path: str, version: tuple, model: str) -> Index:
    return Index.load(connection(path), model)


def index() -> Index:
    return _index(db_path(), store_version(), model_id())


def require_run() -> bool:
    """Show how to build when there is no analysis yet; True if there is one."""
    if run_id() is None:
        st.info(
            "No analysis yet. Build one with `python -m pipelines build` or on the Corpus page."
        )
        return False
    return True


_warming = threading.Lock()
_warmed = False


def warm_up_in_background() -> None:
    """Load the model and the search index once per server process, off the page's thread, so
    the first search does not wait for them."""
    global _warmed
    with _warming:
        if _warmed:
            return
        _warmed = True

    def load() -> None:
        model = model_id()
        if model is not None:
            embedder(model)
            index()

    threading.Thread(target=load, name="crosswalk-warm-up", daemon=True).start()
