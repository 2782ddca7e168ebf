"""The embedding precision per CPU (#24): bf16 only where the CPU has it natively, checked
against fp32, recorded in the model id, and sharing the fp32 cache only when the check passed.

This project's machines are AVX2-only, so bf16 itself is exercised here only as far as OpenVINO's
refusal; the choice and the cache rules run on stand-in CPUs and embedders."""

from __future__ import annotations

import pytest

from pipelines import store
from pipelines.embed import embedders
from pipelines.embed import precision as precisions
from pipelines.embed.cache import embed_missing
from pipelines.embed.embedders import BUNDLED, HashEmbedder
from pipelines.errors import InputError
from tests.conftest import dump
from tests.samples import write_csv

AVX2 = frozenset({"avx", "avx2", "fma", "f16c", "sse4_2"})
SAPPHIRE_RAPIDS = AVX2 | {"avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"}


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu sse avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t: fpu\n",
        encoding="utf-8",
    )
    assert precisions.cpu_flags(cpuinfo) == {"fpu", "sse", "avx2", "avx512_bf16"}
    assert precisions.cpu_flags(tmp_path / "absent") == frozenset()


@pytest.mark.parametrize(
    ("asked", "flags", "chosen"),
    [
        ("auto", AVX2, "f32"),
        ("auto", SAPPHIRE_RAPIDS, "bf16"),
        ("auto", AVX2 | {"amx_bf16"}, "bf16"),
        ("f32", SAPPHIRE_RAPIDS, "f32"),
        ("bf16", AVX2, "bf16"),  # forced: the backend then runs it, emulates it or refuses
    ],
)
def test_auto_takes_bf16_only_where_the_cpu_has_it(asked, flags, chosen):
    choice = precisions.choose(asked, flags)
    assert choice.precision == chosen
    assert choice.forced == (asked != "auto")


def test_the_setting_is_read_and_checked(monkeypatch):
    monkeypatch.delenv("CROSSWALK_PRECISION", raising=False)
    assert precisions.requested() == "auto"
    monkeypatch.setenv("CROSSWALK_PRECISION", "FP32")
    assert precisions.requested() == "f32"
    monkeypatch.setenv("CROSSWALK_PRECISION", "int8")
    with pytest.raises(InputError, match=r"unknown precision 'int8'. Known: auto, f32, bf16"):
        precisions.requested()


def test_a_reduced_precision_is_recorded_in_the_model_id():
    assert precisions.model_id_for(BUNDLED, "f32") == BUNDLED
    assert precisions.model_id_for(BUNDLED, "bf16") == f"{BUNDLED}@bf16"


class _StandIn(HashEmbedder):
    """A bundled-model stand-in that records the precision it was built at."""

    def __init__(self, precision: str):
        super().__init__(model_id=precisions.model_id_for(BUNDLED, precision))
        self.precision = precision
        self.precision_reason = ""
        self.shares_cache_with = None


@pytest.mark.parametrize(
    ("setting", "score", "model_id", "shares"),
    [
        ("auto", 0.99996, f"{BUNDLED}@bf16", BUNDLED),  # passes: bf16, sharing the fp32 cache
        ("auto", 0.995, BUNDLED, None),  # fails: auto goes back to f32
        ("bf16", 0.995, f"{BUNDLED}@bf16", None),  # forced and failing: a cache of its own
    ],
)
def test_the_fp32_check_guards_bf16_on_a_cpu_that_has_it(
    monkeypatch, setting, score, model_id, shares
):
    monkeypatch.setenv("CROSSWALK_PRECISION", setting)
    monkeypatch.setattr(precisions, "cpu_flags", lambda: SAPPHIRE_RAPIDS)
    monkeypatch.setattr(embedders, "_bundled_at", lambda _b, precision, _t: _StandIn(precision))
    monkeypatch.setattr(embedders, "fp32_agreement", lambda _e: score)
    chosen = embedders.bundled_embedder()
    assert (chosen.model_id, chosen.shares_cache_with) == (model_id, shares)
    assert f"{score:.5f}" in chosen.precision_reason


class _Counting(HashEmbedder):
    def __init__(self, model_id: str, shares: str | None):
        super().__init__(model_id=model_id)
        self.shares_cache_with = shares
        self.encoded = 0

    def encode(self, texts, *, progress=None):
        self.encoded += len(texts)
        return super().encode(texts, progress=progress)


@pytest.mark.parametrize(("shares", "embedded"), [("hash-256", 0), (None, 3)])
def test_only_an_agreed_precision_reuses_the_fp32_cache(tmp_path, cli, connect, shares, embedded):
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    conn = connect()
    assert embed_missing(conn, HashEmbedder()).embedded == 3
    reduced = _Counting("hash-256@bf16", shares)
    report = embed_missing(conn, reduced)
    assert (report.embedded, report.reused, reduced.encoded) == (embedded, 3 - embedded, embedded)
    hashes = sorted(store.cached_hashes(conn, "hash-256"))
    assert sorted(store.cached_hashes(conn, "hash-256@bf16")) == hashes
    assert embed_missing(conn, _Counting("hash-256@bf16", shares)).embedded == 0


def test_the_build_says_which_precision_it_used(tmp_path, cli):
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    status, out, _ = cli("build", "--embed-only")
    assert status == 0 and "engine: local; precision: f32" in out


@pytest.mark.model
def test_forcing_bf16_on_this_cpu_is_refused_or_recorded(tmp_path, cli, db, monkeypatch):
    """On a CPU without native bf16 OpenVINO would quietly run f32: the build refuses (E053,
    exit 2, nothing written). On one with it, the run records the bf16 model id."""
    assert cli("ingest", str(write_csv(tmp_path)))[0] == 0
    before = dump(db)
    monkeypatch.setenv("CROSSWALK_PRECISION", "bf16")
    status, out, err = cli("build", "--embed-only", "--model", BUNDLED)
    if precisions.choose("auto", precisions.cpu_flags()).precision == "bf16":
        assert status == 0 and f"with {BUNDLED}@bf16" in out
    else:
        assert status == 2
        assert "cannot run in bf16 on this CPU: OpenVINO would run it in f32" in err
        assert "[E053]" in err and "avx2" in err
        assert dump(db) == before


@pytest.mark.parametrize(("flags", "backend"), [(SAPPHIRE_RAPIDS, "openvino"), (AVX2, "torch")])
def test_a_runs_recorded_bf16_id_gives_its_embedder_on_any_cpu(monkeypatch, flags, backend):
    """The app, `search` and the workshop pack embed queries with the run's recorded model id:
    `all-MiniLM-L6-v2@bf16` on a CPU with native bf16. That id must name an embedder (it once
    failed as an unknown model), and on a CPU without bf16 torch emulates it."""
    built = []
    monkeypatch.setattr(precisions, "cpu_flags", lambda: flags)
    monkeypatch.setattr(
        embedders, "_bundled_at", lambda b, precision, _t: built.append(b) or _StandIn(precision)
    )
    chosen = embedders.get_embedder(f"{BUNDLED}@bf16")
    assert chosen.model_id == f"{BUNDLED}@bf16" and built == [backend]
    with pytest.raises(InputError, match="unknown precision 'int8'"):
        embedders.get_embedder(f"{BUNDLED}@int8")
