"""The Ray engine (#24): `build --engine ray` embeds as Ray Data jobs on one local Ray per test
session, gives what the local engine gives, and fails clearly when the cluster is not there."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines import store
from pipelines.analysis.concepts import load_framework
from pipelines.cli import main
from pipelines.embed.cache import embed_missing
from pipelines.embed.embedders import HashEmbedder, agreement
from tests.conftest import dump

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [str(ROOT / "corpus" / "excerpts.csv"), "--sources", str(ROOT / "corpus" / "sources.csv")]


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the session: two CPUs, so a pool of one actor and one CPU for reads."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _ingested(path: Path) -> Path:
    assert main(["ingest", "--db", str(path), *CORPUS]) == 0
    return path


def _embeddings(path: Path, model_id: str) -> tuple[list[str], np.ndarray]:
    conn = store.connect(path)
    hashes = sorted(store.cached_hashes(conn, model_id))
    return hashes, store.load_embeddings(conn, model_id, hashes)


def _assignments(path: Path) -> dict:
    conn = store.connect(path)
    return store.run_result(conn, store.latest_run(conn)["id"], "assignments")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_build_without_the_engine_flag_never_imports_ray(tmp_path):
    db = tmp_path / "store.sqlite"
    script = (
        "import sys\n"
        "from pipelines.cli import main\n"
        f"assert main(['ingest', '--db', {str(db)!r}, *{CORPUS!r}]) == 0\n"
        f"assert main(['build', '--db', {str(db)!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    env = {**os.environ, "CROSSWALK_MODEL": "hash-256"}
    env.pop("CROSSWALK_ENGINE", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_pool_leaves_a_cpu_for_the_read_tasks(ray_cluster):
    from pipelines.embed import ray_engine

    assert ray_cluster.cluster_resources()["CPU"] == 2
    assert ray_engine.pool_size() == 1


def test_a_ray_build_gives_the_local_embeddings_and_themes(ray_cluster, tmp_path, capsys):
    local, on_ray = _ingested(tmp_path / "local.sqlite"), _ingested(tmp_path / "ray.sqlite")
    assert main(["build", "--db", str(local)]) == 0
    capsys.readouterr()
    address = ray_cluster.get_runtime_context().gcs_address
    assert main(["build", "--db", str(on_ray), "--engine", "ray", "--ray-address", address]) == 0
    out = capsys.readouterr().out
    embedded = re.search(r"embedded (\d+) new texts of (\d+) with hash-256", out)
    assert embedded and embedded[1] == embedded[2] and "engine: ray" in out
    hashes, vectors = _embeddings(local, "hash-256")
    ray_hashes, ray_vectors = _embeddings(on_ray, "hash-256")
    assert ray_hashes == hashes
    assert agreement(ray_vectors, vectors) >= 0.9999
    assert _assignments(on_ray) == _assignments(local)
    # Tagging ran on Ray too: the same tags and the same coverage of each framework read alone.
    for name in ("tags", "coverage_counts"):
        assert _result(on_ray, name) == _result(local, name), name


def _result(path, name):
    conn = store.connect(path)
    return store.run_result(conn, store.latest_run(conn)["id"], name)


def test_the_engine_setting_chooses_ray(ray_cluster, tmp_path, monkeypatch, capsys):
    db = _ingested(tmp_path / "store.sqlite")
    monkeypatch.setenv("CROSSWALK_ENGINE", "ray")
    assert main(["build", "--db", str(db), "--embed-only"]) == 0
    assert "engine: ray" in capsys.readouterr().out


def test_an_unknown_engine_is_a_coded_error(tmp_path, capsys):
    db = _ingested(tmp_path / "store.sqlite")
    before = dump(db)
    assert main(["build", "--db", str(db), "--engine", "spark"]) == 2
    assert "unknown engine 'spark'. Known: local, ray. [E025]" in capsys.readouterr().err
    assert dump(db) == before


def test_an_unreachable_ray_address_is_exit_2_and_writes_nothing(ray_cluster, tmp_path, capsys):
    db = _ingested(tmp_path / "store.sqlite")
    before = dump(db)
    address = f"127.0.0.1:{_free_port()}"
    capsys.readouterr()
    status = main(["build", "--db", str(db), "--engine", "ray", "--ray-address", address])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith(f"error: cannot reach the Ray cluster at {address} (")
    assert "nothing was written. [E052]" in err
    assert dump(db) == before


def test_ray_not_installed_is_a_coded_error(tmp_path, monkeypatch, capsys):
    db = _ingested(tmp_path / "store.sqlite")
    before = dump(db)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    assert main(["build", "--db", str(db), "--engine", "ray"]) == 2
    assert "needs Ray, which is not installed" in capsys.readouterr().err
    assert dump(db) == before


def test_workers_that_embed_with_another_model_are_refused(ray_cluster, tmp_path):
    from pipelines.embed import ray_engine

    db = _ingested(tmp_path / "store.sqlite")
    driver = HashEmbedder(model_id="hash-other")
    encoder = ray_engine.RayEncoder(model="hash-256")
    with pytest.raises(RuntimeError, match="embedded with hash-256 where this process uses"):
        embed_missing(store.connect(db), driver, encoder=encoder)


def _tagging_inputs():
    import csv

    from pipelines.analysis.concepts import load_frameworks

    with (ROOT / "corpus" / "excerpts.csv").open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    embedder = HashEmbedder()
    # The hash embedder's vectors, jittered: it gives many exactly equal similarities, and an
    # exact tie can be broken either way by BLAS, whose rounding of a batch differs from that of
    # the whole matrix in the last bit. Real embeddings do not tie.
    vectors = embedder.encode(texts) + np.random.default_rng(42).normal(
        scale=0.02, size=(len(texts), embedder.dim)
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors, load_frameworks([]), embedder


def test_the_ray_tagger_gives_the_local_tags(ray_cluster, tmp_path):
    from pipelines.analysis.run import tag_by_framework_group as local_tagger
    from pipelines.embed import ray_engine

    texts, vectors, frameworks, embedder = _tagging_inputs()
    # A user's codebook beside the bundled frameworks: tagged as a group of its own.
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text(
        "framework: {id: mine, label: Mine, field: null}\n"
        "concepts:\n"
        "  - {id: housing, label: Housing, description: a home of one's own, "
        "cues: [housing, a home, tenancy]}\n"
        "  - {id: work, label: Work, description: paid work and employment, "
        "cues: [employment, a job]}\n",
        encoding="utf-8",
    )
    frameworks = [*frameworks, load_framework(codebook)]
    want = local_tagger(texts, vectors, frameworks, embedder=embedder)
    got = ray_engine.tag_by_framework_group(texts, vectors, frameworks, embedder=embedder)
    assert sum(len(row) for row in want) > len(texts)  # the comparison has tags to compare
    assert any(t["concept"].startswith("mine/") for row in want for t in row)
    assert json.dumps(got) == json.dumps(want)


@pytest.mark.model
def test_a_ray_build_with_the_real_model_matches_the_local_one(ray_cluster, real_store, tmp_path):
    """The bundled model on one Ray actor (one OpenVINO thread) against the local build: the
    same embeddings (cosine >= 0.9999) and the same themes."""
    on_ray = _ingested(tmp_path / "ray.sqlite")
    os.environ["CROSSWALK_MODEL"] = "all-MiniLM-L6-v2"
    try:
        assert main(["build", "--db", str(on_ray), "--engine", "ray"]) == 0
    finally:
        os.environ["CROSSWALK_MODEL"] = "hash-256"
    # Both builds record the precision this CPU runs the model at (`...@bf16` where it is native).
    model = store.latest_run(store.connect(real_store))["model_id"]
    hashes, vectors = _embeddings(real_store, model)
    conn = store.connect(on_ray)
    assert store.latest_run(conn)["model_id"] == model
    assert agreement(store.load_embeddings(conn, model, hashes), vectors) >= 0.9999
    assert _assignments(on_ray) == _assignments(real_store)
