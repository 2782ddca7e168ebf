"""`build`: embed what is missing, then run the analysis and persist it as a run."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import store
from pipelines.embed.embedders import embed_missing, get_embedder
from pipelines.errors import input_error

ENGINES = ("local", "ray")


@dataclass
class BuildResult:
    model_id: str
    total: int
    embedded: int
    run_id: int | None = None
    reused: bool = False
    summary: dict = field(default_factory=dict)
    engine: str = "local"
    precision: str = ""  # the embedder's precision and why it was chosen
    reused_embeddings: int = 0  # copied from the cache of a precision this one agrees with

    def summary_lines(self) -> list[str]:
        lines = []
        if self.embedded:
            lines.append(f"embedded {self.embedded} new texts of {self.total} with {self.model_id}")
        elif not self.reused_embeddings:
            lines.append(
                f"nothing new to embed ({self.total} texts already embedded with {self.model_id})"
            )
        if self.reused_embeddings:
            lines.append(
                f"reused {self.reused_embeddings} embeddings of the precision {self.model_id} "
                "agrees with"
            )
        lines.append(f"engine: {self.engine}; precision: {self.precision}")
        if self.run_id is not None:
            state = "unchanged, reused" if self.reused else "complete"
            lines.append(f"run {self.run_id} ({state})")
            for key, value in self.summary.items():
                lines.append(f"  {key}: {value}")
            if self.summary.get("full rebuild would change the themes"):
                lines.append(
                    "new excerpts were placed into the existing themes, but many are far from "
                    "every theme: a full rebuild (`build --full`) would change the themes"
                )
        return lines


def run_build(
    conn: sqlite3.Connection,
    *,
    model: str | None = None,
    concepts: list[Path] | None = None,
    seed: int = 42,
    progress=None,
    embed_only: bool = False,
    full: bool = False,
    engine: str | None = None,
    ray_address: str | None = None,
    coded: Path | None = None,
    codebooks: list | None = None,
) -> BuildResult:
    """Embed what is missing, then run the analysis (see `analysis.run_analysis`; `full`
    re-clusters from scratch instead of placing a few new excerpts into the current themes).

    `engine` (default $CROSSWALK_ENGINE, else local) is what embeds: `ray` runs it as Ray Data
    jobs on the cluster at `ray_address` (see `embed.ray_engine`), joined before anything is
    embedded, so a cluster that does not answer leaves the store as it was.

    `coded` is a file of hand-coded excerpts (`coded.read_coded` gives its format) that calibrates
    the coverage of the concepts it codes; it is read and checked before anything is embedded.
    `codebooks` are frameworks already loaded (`current_inputs`), beside those of `concepts`."""
    engine = engine or os.environ.get("CROSSWALK_ENGINE") or "local"
    if engine not in ENGINES:
        raise input_error("E025", None, what="engine", value=engine, known=", ".join(ENGINES))
    if store.counts(conn)["excerpts"] == 0:
        raise input_error("E024")
    encoder = None
    if engine == "ray":
        from pipelines.embed import ray_engine

        ray_engine.connect(ray_address)
        encoder = ray_engine.RayEncoder(model=model)
    from pipelines.analysis.concepts import load_frameworks
    from pipelines.analysis.run import run_analysis

    # Codebooks are read before anything is embedded so a malformed one fails fast and costs nothing.
    frameworks = None if embed_only else load_frameworks(concepts or []) + list(codebooks or [])
    hand_codes = None
    if coded is not None and not embed_only:
        from pipelines.analysis.coded import read_coded

        hand_codes = read_coded(Path(coded), store.excerpts(conn), frameworks)
    embedder = get_embedder(model)
    report = embed_missing(
        conn,
        embedder,
        progress=(lambda d, t: progress(d, t, "embedding")) if progress else None,
        encoder=encoder,
    )
    result = BuildResult(
        embedder.model_id,
        report.total,
        report.embedded,
        engine=engine,
        precision=f"{embedder.precision} ({embedder.precision_reason})"
        if embedder.precision_reason
        else embedder.precision,
        reused_embeddings=report.reused,
    )
    if embed_only:
        return result
    run = run_analysis(
        conn,
        embedder=embedder,
        frameworks=frameworks,
        seed=seed,
        progress=progress,
        full=full,
        engine=engine,
        coded=hand_codes,
    )
    result.run_id, result.reused, result.summary = run.run_id, run.reused, run.summary
    return result


def current_inputs(conn: sqlite3.Connection) -> tuple[list, Path | None]:
    """The codebooks and the hand-coded file the current run was built with, so a rebuild from
    the app keeps them: one that dropped them would undo a user's codebook and calibration
    without a word. The coded file is None when the run had none."""
    import json

    from pipelines.analysis.concepts import load_frameworks
    from pipelines.analysis.contract import load_result

    run = store.latest_run(conn)
    if run is None:
        return [], None
    bundled = {f.id for f in load_frameworks([])}
    used = load_result(conn, run["id"], "frameworks") or []
    coded = (json.loads(run["params"]).get("coded") or {}).get("file")
    return [f for f in used if f.id not in bundled], Path(coded) if coded else None
