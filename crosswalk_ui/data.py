"""Cached access to the store for the pages: one connection and one load per store change."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pipelines import store


@st.cache_resource
def connection(path: str):
    return store.connect(path)


def conn():
    return connection(str(store.default_db_path()))


def store_version() -> tuple:
    """Changes whenever excerpts or runs change, so cached data is refreshed without a restart."""
    c = conn()
    row = c.execute(
        "SELECT (SELECT COUNT(*) FROM excerpts), (SELECT MAX(id) FROM excerpts), (SELECT MAX(id) FROM runs)"
    ).fetchone()
    return tuple(row)


@st.cache_data(show_spinner=False)
def _excerpts(path: str, version: tuple) -> pd.DataFrame:
    return store.excerpts(connection(path))


def excerpts() -> pd.DataFrame:
    return _excerpts(str(store.default_db_path()), store_version())


def field_labels() -> dict[str, str]:
    return store.field_labels(conn())


def field_colours() -> dict[str, str]:
    return store.field_colours(conn())
