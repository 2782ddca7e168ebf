"""Serve the app: `python -m crosswalk_ui.serve [streamlit run options]`.

The same as `streamlit run app.py`, plus one thread that imports what the first page needs
(pandas, numpy, pyarrow, plotly, the pages and pipelines) as soon as the process starts, then
reads and draws the first page's data. Without it the first script run spends about a second
importing them, and only starts once the browser has loaded Streamlit's own page (two seconds
here); with it the imports happen meanwhile.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
PRELOAD_THREAD = "crosswalk-preload"  # its warnings of serving no page are dropped (`data`)
_LOG = logging.getLogger(__name__)


def _preload() -> None:
    import pyarrow  # noqa: F401  (Streamlit sends tables as Arrow)

    import crosswalk_ui.pages  # noqa: F401  (every page, and through them pandas and plotly)

    # The page icon is an emoji: the first set_page_config loads Streamlit's emoji catalogue
    # (0.3 s on the benchmark machine). A later Streamlit may keep it elsewhere; then the first
    # script run loads it as before.
    with contextlib.suppress(ImportError):
        import streamlit.emojis  # noqa: F401

    # Streamlit's first element in a process checks whether it runs in a Python shell by walking
    # the call stack with `inspect`, which first finds the file of every module imported so far:
    # 0.07 s of the first page's script on the benchmark machine. `inspect` keeps what it found,
    # so walking a stack once now leaves the first page only the modules imported since.
    inspect.stack()

    # The first page's data and charts, read and built while the browser loads Streamlit's own
    # page (the first page's script then finds them cached). If the store cannot be read, the
    # page says why.
    from crosswalk_ui import start_page

    try:
        start_page.warm()
    except Exception as error:  # noqa: BLE001  (a preparation only: the page reports it)
        _LOG.info("the first page was not prepared ahead: %s", error)


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli

    threading.Thread(target=_preload, name=PRELOAD_THREAD, daemon=True).start()
    # Static serving brings plotly.js to the plotly element, from wherever the server starts
    # (`.streamlit/config.toml` says the same, but is read from the working directory only).
    static = ["--server.enableStaticServing", "true"]
    sys.argv = ["streamlit", "run", str(APP), *static, *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
