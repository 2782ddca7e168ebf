"""The README documents every CLI command, reader format and configuration variable (as Datasette's
test_docs does), so the docs cannot silently fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.cli import build_parser
from pipelines.exports import EXPORTERS
from pipelines.ingest.readers import READERS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented(command):
    assert re.search(rf"\| `{command}[ `]", README), command


@pytest.mark.parametrize(
    "extension", sorted({e for spec in READERS.values() for e in spec.extensions})
)
def test_every_extension_is_documented(extension):
    assert f"`{extension}`" in README


def test_every_export_is_documented():
    from pipelines.analysis import results  # noqa: F401  (registers the analysis exporters)

    for name in EXPORTERS:
        assert f"`{name}`" in README, name


@pytest.mark.parametrize(
    "variable",
    [
        "CROSSWALK_DB",
        "CROSSWALK_MODEL",
        "CROSSWALK_BACKEND",
        "CROSSWALK_PRECISION",
        "HF_HUB_OFFLINE",
    ],
)
def test_every_setting_is_documented(variable):
    assert f"`{variable}" in README
