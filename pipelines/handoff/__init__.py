"""Hand-offs to the tools a researcher finishes a synthesis in: REFI-QDA projects and codebooks
(NVivo, ATLAS.ti, MAXQDA, QualCoder), reference lists (Zotero and other reference managers), and
the time lens. Each module registers its exports; `python -m pipelines export` imports them."""

from pipelines.handoff import references, refi, timelens  # noqa: F401  (register their exports)
