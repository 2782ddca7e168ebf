"""The workshop formats by name: each renderer registers itself with `@renderer("md")`.

A renderer takes a `Pack` and returns the file's bytes. An unknown name is an error listing the
known ones, never a fall-back to a default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.errors import input_error

if TYPE_CHECKING:
    from pipelines.workshop.pack import Pack

Renderer = Callable[["Pack"], bytes]
RENDERERS: dict[str, Renderer] = {}
ALIASES = {"markdown": "md", "htm": "html"}  # file suffixes that name a format another way


def renderer(fmt: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of `fmt`."""

    def wrap(func: Renderer) -> Renderer:
        RENDERERS[fmt] = func
        return func

    return wrap


def _unknown(fmt: str):
    return input_error("E042", None, value=fmt, known=", ".join(sorted(RENDERERS)))


def render(pack: Pack, fmt: str) -> bytes:
    """The pack written as `fmt` (one of `RENDERERS`)."""
    if fmt not in RENDERERS:
        raise _unknown(fmt)
    return RENDERERS[fmt](pack)


def format_for(path: Path, fmt: str | None) -> str:
    """The format asked for: `fmt` if given, else the suffix of `path`."""
    chosen = fmt or path.suffix.lower().lstrip(".")
    chosen = ALIASES.get(chosen, chosen)
    if chosen not in RENDERERS:
        raise _unknown(chosen)
    return chosen
