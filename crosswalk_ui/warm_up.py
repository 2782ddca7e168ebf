"""The app's two threads that compute ahead of any page, and nothing else starts threads.

- The launcher's preload (`start_preload`, called by `crosswalk_ui.serve` as the process starts):
  imports what the first page needs (pandas, numpy, pyarrow, plotly, the pages and pipelines)
  and reads and draws the first page's data while the browser loads Streamlit's own page.
  Without it the first script run spends about a second importing them, and only starts once
  the browser has loaded Streamlit's page (two seconds here).
- The warm-up (`warm_up_in_background`, called by app.py after each page): once per server
  process, `WARM_UP_DELAY` seconds after the first page, it loads the search index and the model
  and computes each page's first view (the page module's `warm()`), so that neither later pages
  nor the first search wait for them.

Importing this module is cheap (the standard library only): the launcher imports it before
anything else, and the heavy imports happen in the threads.
"""

from __future__ import annotations

import logging
import threading
import time

WARM_UP_DELAY = 3.0  # seconds after the first page's script ends
WARM_UP_THREAD = "crosswalk-warm-up"
PRELOAD_THREAD = "crosswalk-preload"
_LOG = logging.getLogger(__name__)
# Streamlit logs this warning under this module's name (pinned in pyproject.toml, checked by
# tests/test_app.py): if it moves, the warning comes back in the log and nothing else changes.
_NO_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


class _OffAnyPage(logging.Filter):
    """Streamlit warns "missing ScriptRunContext" whenever a cached function with a spinner runs
    in a thread that serves no page. These threads do that on purpose; the warnings only alarmed
    whoever read the server's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName not in {WARM_UP_THREAD, PRELOAD_THREAD}


logging.getLogger(_NO_CONTEXT_LOGGER).addFilter(_OffAnyPage())
_starting = threading.Lock()
_started = False
_over = threading.Event()


def start_preload() -> None:
    """Start the launcher's preload thread (`_preload`)."""
    threading.Thread(target=_preload, name=PRELOAD_THREAD, daemon=True).start()


def _preload() -> None:
    import inspect

    import pyarrow  # noqa: F401  (Streamlit sends tables as Arrow)

    from crosswalk_ui import pages  # every page, and through them pandas and plotly

    # Streamlit's first element in a process checks whether it runs in a Python shell by walking
    # the call stack with `inspect`, which first finds the file of every module imported so far:
    # 0.07 s of the first page's script on the benchmark machine. `inspect` keeps what it found,
    # so walking a stack once now leaves the first page only the modules imported since.
    inspect.stack()
    # The first page's data and charts, read and built while the browser loads Streamlit's own
    # page (the first page's script then finds them cached). If the store cannot be read, the
    # page says why.
    try:
        pages.ALL[0].warm()
    except Exception as error:  # noqa: BLE001  (a preparation only: the page reports it)
        _LOG.warning("the first page was not prepared ahead: %s", error)


def warmed_up() -> bool:
    """Whether this server's warm-up has ended (each page's first view is computed, unless the
    store has no model or run to compute it from)."""
    return _over.is_set()


def warm_up_in_background() -> None:
    """Once per server process, after the first page has been served: start the warm-up thread
    for the store that page was served from."""
    global _started
    with _starting:
        if _started:
            return
        _started = True
    from crosswalk_ui import data

    path = data.db_path()
    threading.Thread(
        target=_after_first_page, args=(path,), name=WARM_UP_THREAD, daemon=True
    ).start()


def _after_first_page(path: str) -> None:
    try:
        # Leave the two cores to the browser while it draws the first page's charts.
        time.sleep(WARM_UP_DELAY)
        _warm(path)
    finally:
        _over.set()


def _warm(path: str) -> None:
    import pipelines.ingest.files  # noqa: F401  (the Corpus page's file readers)
    from crosswalk_ui import data, pages

    data.use_store(path)  # the store this server was started on, whatever the env says later
    model = data.model_id()
    if model is None:
        return
    data.index()
    data.embedder(model)  # Compare and Search need both
    data.encode("recovery")
    for page in pages.ALL:
        if hasattr(page, "warm"):
            page.warm()
