"""Crosswalk's engine: readers, store, embedding, analysis, search, exports and the CLI.

Nothing in this package imports streamlit; functions return data.
"""

__version__ = "0.1.0"
