"""Serve the app: `python -m crosswalk_ui.serve [streamlit run options]`.

The same as `streamlit run app.py`, plus one thread that imports what the first page needs
(pandas, numpy, pyarrow, plotly, the pages and pipelines) as soon as the process starts. Without
it the first script run spends about a second importing them, and only starts once the browser
has loaded Streamlit's own page (two seconds here); with it the imports happen meanwhile.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def _preload() -> None:
    import pyarrow  # noqa: F401  (Streamlit sends tables as Arrow)

    import crosswalk_ui.pages  # noqa: F401  (every page, and through them pandas and plotly)

    # The page icon is an emoji: the first set_page_config loads Streamlit's emoji catalogue
    # (0.3 s on the benchmark machine). A later Streamlit may keep it elsewhere; then the first
    # script run loads it as before.
    with contextlib.suppress(ImportError):
        import streamlit.emojis  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli

    threading.Thread(target=_preload, name="crosswalk-preload", daemon=True).start()
    # Static serving brings plotly.js to the plotly element, from wherever the server starts
    # (`.streamlit/config.toml` says the same, but is read from the working directory only).
    static = ["--server.enableStaticServing", "true"]
    sys.argv = ["streamlit", "run", str(APP), *static, *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
