"""Serve the app: `python -m crosswalk_ui.serve [streamlit run options]`.

The same as `streamlit run app.py`, plus the preload thread (`crosswalk_ui.warm_up`) started as
soon as the process starts, and static serving for the plotly element's plotly.js.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crosswalk_ui import warm_up

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli

    warm_up.start_preload()
    # Static serving brings plotly.js to the plotly element, from wherever the server starts
    # (`.streamlit/config.toml` says the same, but is read from the working directory only).
    static = ["--server.enableStaticServing", "true"]
    sys.argv = ["streamlit", "run", str(APP), *static, *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
