"""The analysis engine on constructed data with known answers, and on the bundled corpus with the
fast test embedder (the real model is exercised in test_model.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import store
from pipelines.analysis.compare import benjamini_hochberg, composition, log_odds, verdicts
from pipelines.analysis.results import effective_themes, merge_themes, rename_theme
from pipelines.analysis.run import run_analysis
from pipelines.analysis.themes import cluster, normalise
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_bundled_corpus, ingest_paths

ROOT = Path(__file__).resolve().parent.parent


def test_benjamini_hochberg_known_values():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    assert np.allclose(q, [0.04, 0.0533333, 0.0533333, 0.2])


def test_verdicts_on_constructed_composition():
    fields = ["mental_health", "criminal_justice", "substance_use"]
    themes, labels = [], []
    # theme 0: 36 mental health, 2 each of the others -> distinctive to mental health
    themes += [0] * 40
    labels += ["mental_health"] * 36 + ["criminal_justice"] * 2 + ["substance_use"] * 2
    # theme 1: 20 of each -> shared
    themes += [1] * 60
    labels += ["mental_health"] * 20 + ["criminal_justice"] * 20 + ["substance_use"] * 20
    # theme 2: criminal justice and substance use, no mental health -> mixed
    themes += [2] * 44
    labels += ["criminal_justice"] * 22 + ["substance_use"] * 22
    # balance the base rates with a fourth, shared theme
    themes += [3] * 54
    labels += ["mental_health"] * 24 + ["criminal_justice"] * 16 + ["substance_use"] * 14
    table = composition(np.array(themes), labels, fields)
    result = {v.theme: v for v in verdicts(table)}
    assert result[0].verdict == "distinctive" and result[0].field == "mental_health"
    assert "36 of 40" in result[0].reason
    assert result[1].verdict == "shared"
    assert result[2].verdict == "mixed" and "mental_health" in result[2].reason
    row = table[(table.theme == 0) & (table.field == "mental_health")].iloc[0]
    assert row["q_value"] < 0.05 and row["lift"] > 1.5


def test_log_odds_finds_each_fields_own_words():
    texts = (
        ["abstinence and sobriety matter"] * 10
        + ["offending and desistance matter"] * 10
        + ["shared words matter"] * 10
    )
    groups = ["su"] * 10 + ["cj"] * 10 + ["su", "cj"] * 5
    table = log_odds(texts, groups, top=2)
    assert set(table[table.field == "su"]["term"]) == {"abstinence", "sobriety"}
    assert set(table[table.field == "cj"]["term"]) == {"offending", "desistance"}
    assert (table["z"] > 0).all()


def test_cluster_finds_the_number_of_blobs_without_being_told():
    from sklearn.datasets import make_blobs

    points, truth = make_blobs(
        n_samples=200, centers=5, n_features=24, cluster_std=1.0, random_state=42
    )
    result = cluster(normalise(points), seed=1)
    assert result.k == 5
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, result.labels) > 0.95


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bundled corpus ingested and analysed with the fast hash embedder."""
    path = tmp_path_factory.mktemp("analysis") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    embedder = HashEmbedder()
    embed_missing(conn, embedder)
    outcome = run_analysis(conn, embedder=embedder, frameworks=None, seed=3)
    return path, conn, embedder, outcome


def test_every_excerpt_has_a_theme_and_results_are_complete(built):
    _, conn, _, outcome = built
    assignments = store.run_result(conn, outcome.run_id, "assignments")
    assert len(assignments) == conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]
    assert outcome.summary["unassigned"] == 0
    themes = store.run_result(conn, outcome.run_id, "themes")
    assert sum(t["size"] for t in themes) == len(assignments)
    for theme in themes:
        assert theme["label"] and theme["key_terms"]
        assert 0 <= theme["stability"] <= 1
        assert theme["verdict"] in {"shared", "distinctive", "mixed"}
    definitions = store.run_result(conn, outcome.run_id, "definitions")
    assert definitions["count"] >= 80 and definitions["families"]
    for family in definitions["families"]:
        assert set(family["share_of_field"]) == {
            "mental_health",
            "substance_use",
            "criminal_justice",
            "homelessness",
        }
    layout = store.run_result(conn, outcome.run_id, "layout")
    assert len(layout["x"]) == len(assignments)
    run = store.latest_run(conn)
    params = json.loads(run["params"])
    assert params["seed"] == 3 and params["model_id"] == "hash-256"
    assert json.loads(run["timings"])["total"] > 0


def test_same_corpus_and_seed_give_identical_output(built):
    _, conn, embedder, outcome = built
    again = run_analysis(conn, embedder=embedder, frameworks=None, seed=3, force=True)
    for name in ("assignments", "themes", "tags", "definitions", "layout", "composition"):
        first = store.run_result(conn, outcome.run_id, name)
        second = store.run_result(conn, again.run_id, name)
        assert first == second, name


def test_unchanged_build_reuses_the_run(built):
    _, conn, embedder, _ = built
    latest = store.latest_run(conn)["id"]
    outcome = run_analysis(conn, embedder=embedder, frameworks=None, seed=3)
    assert outcome.reused and outcome.run_id == latest


def test_theme_edits_survive_a_rebuild_with_more_excerpts(built, tmp_path):
    path, _, embedder, _ = built
    copy = tmp_path / "copy.sqlite"
    source = store.connect(path)
    source.execute(f"VACUUM INTO '{copy}'")
    conn = store.connect(copy)
    themes, _ = effective_themes(conn)
    biggest, second = themes[0]["theme_key"], themes[1]["theme_key"]
    rename_theme(conn, biggest, "My renamed theme")
    merge_themes(conn, second, biggest)
    extra = tmp_path / "extra.csv"
    rows = ["id,text,field"] + [
        f'n{i},"An extra note {i} on hope, housing and identity after prison and treatment.",criminal_justice'
        for i in range(5)
    ]
    extra.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ingest_paths(conn, [extra])
    embed_missing(conn, embedder)
    outcome = run_analysis(conn, embedder=embedder, frameworks=None, seed=3)
    assert not outcome.reused
    after, mapped = effective_themes(conn)
    labels = {t["theme_key"]: t["label"] for t in after}
    assert labels.get(biggest) == "My renamed theme"
    assert second not in labels  # still merged
    assert len(mapped) == conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]


def test_export_contracts(built, tmp_path, capsys):
    from pipelines.cli import main

    path = built[0]
    for what, name in [
        ("assignments", "a.csv"),
        ("themes", "t.csv"),
        ("concepts", "c.csv"),
        ("comparisons", "x.json"),
        ("definitions", "d.json"),
        ("graph", "g.graphml"),
        ("graph", "g.json"),
        ("excerpts", "e.json"),
    ]:
        assert main(["export", what, "--db", str(path), "--out", str(tmp_path / name)]) == 0, what
    assignments = pd.read_csv(tmp_path / "a.csv")
    assert list(assignments.columns) == [
        "excerpt_id",
        "external_id",
        "field",
        "theme_id",
        "theme_label",
        "concepts",
        "broad_theme_id",
        "broad_theme_label",
    ]
    themes = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    broad = themes[themes["level"] == "1"]
    fine = themes[themes["level"] == "2"]
    assert 1 <= len(broad) <= 10 and len(fine) >= len(broad)
    assert set(fine["parent_id"]) <= set(broad["theme_id"]) and set(broad["parent_id"]) == {""}
    assert set(themes["fragile"]) <= {"true", "false"}
    fine_to_broad = dict(zip(fine["theme_id"], fine["parent_id"], strict=True))
    assert all(
        fine_to_broad[t] == b
        for t, b in zip(assignments["theme_id"], assignments["broad_theme_id"], strict=True)
    )
    concept_ids = {c for cell in assignments["concepts"].dropna() for c in cell.split(";")}
    assert concept_ids and all("/" in c for c in concept_ids)
    assert "mh-001" in set(assignments["external_id"])
    import networkx as nx

    graph = nx.read_graphml(tmp_path / "g.graphml")
    kinds = {d["kind"] for _, d in graph.nodes(data=True)}
    assert kinds == {"framework", "concept", "theme", "field"}


def test_malformed_codebook_is_a_clear_error(built, tmp_path, capsys):
    from pipelines.cli import main

    path = built[0]
    cases = {
        "bad_yaml.yaml": ("framework:\n  id: x\nconcepts: [\n", "line"),
        "no_framework.yaml": (
            "concepts:\n  - id: a\n    label: A\n",
            "needs a 'framework:' mapping",
        ),
        "bad_related.yaml": (
            "framework:\n  id: mine\nconcepts:\n  - id: a\n    label: A\n    related: [hope]\n",
            "must be written framework/concept",
        ),
        "dup.yaml": (
            "framework:\n  id: chime\nconcepts:\n  - id: a\n    label: A\n",
            "already used",
        ),
    }
    for name, (content, fragment) in cases.items():
        file = tmp_path / name
        file.write_text(content, encoding="utf-8")
        status = main(["build", "--db", str(path), "--concepts", str(file)])
        err = capsys.readouterr().err
        assert status == 2, name
        assert name in err and fragment in err, err


def test_user_codebook_tags_appear_in_assignments(built, tmp_path):
    path = built[0]
    copy = tmp_path / "c.sqlite"
    store.connect(path).execute(f"VACUUM INTO '{copy}'")
    shutil.copy(ROOT / "benchmarks" / "devset" / "codebook.yaml", tmp_path / "codebook.yaml")
    from pipelines.cli import main

    assert (
        main(
            [
                "build",
                "--db",
                str(copy),
                "--concepts",
                str(tmp_path / "codebook.yaml"),
                "--model",
                "hash-256",
            ]
        )
        == 0
    )
    assert main(["export", "assignments", "--db", str(copy), "--out", str(tmp_path / "a.csv")]) == 0
    cells = pd.read_csv(tmp_path / "a.csv")["concepts"].dropna()
    assert any("dev/" in c for c in cells)


def test_words_separate_themes_the_embeddings_cannot():
    """Two groups whose embeddings are indistinguishable noise but whose words differ: the joined
    theme features (embeddings + field-centred word analysis) split them exactly."""
    from sklearn.metrics import adjusted_rand_score

    from pipelines.analysis.themes import theme_features, theme_space

    rng = np.random.default_rng(0)
    housing = ["tenancy rent landlord eviction", "rent arrears landlord tenancy", "eviction rent"]
    drinking = ["abstinence sobriety relapse", "sobriety drinking relapse", "drinking abstinence"]
    texts = [f"{housing[i % 3]} note {i}" for i in range(20)]
    texts += [f"{drinking[i % 3]} note {i}" for i in range(20)]
    fields = ["a", "b"] * 20
    vectors = theme_space(normalise(rng.normal(size=(40, 16)).astype(np.float32)), fields)
    truth = [0] * 20 + [1] * 20
    joined = cluster(theme_features(vectors, texts, fields), seed=1, k=2)
    assert adjusted_rand_score(truth, joined.labels) == 1.0
    alone = cluster(vectors, seed=1, k=2)
    assert adjusted_rand_score(truth, alone.labels) < 0.5


def test_theme_features_fall_back_to_embeddings_without_shared_words():
    from pipelines.analysis.themes import theme_features

    vectors = normalise(np.eye(4, dtype=np.float32))
    assert np.array_equal(
        theme_features(vectors, ["alpha", "beta", "gamma", "delta"], ["a"] * 4), vectors
    )


def _concept(framework: str, id_: str, label: str, cues: list[str]):
    from pipelines.analysis.concepts import Concept

    return Concept(framework=framework, id=id_, label=label, description=label, cues=cues)


def test_cue_hits_finds_whole_stemmed_phrases_and_reports_the_first_cue_in_codebook_order():
    from pipelines.analysis.concepts import cue_hits

    concepts = [
        _concept("mine", "work", "Work", ["paid employment", "volunteering"]),
        _concept("mine", "home", "Home", ["tenancy"]),
        _concept("mine", "short", "Short", ["job"]),  # one short word: never a cue on its own
    ]
    texts = [
        "Volunteering led to paid employment and a job.",  # both work cues: the first listed wins
        "Paid work, then employment later.",  # the words apart are not the phrase
        "A subtenancy ended.",  # inside another word is not the word
        "Volunteered twice; the tenancy held.",  # stemmed: volunteered -> volunteer
    ]
    hits = cue_hits(texts, concepts)
    assert hits[0] == {0: "paid employment"}
    assert hits[1] == {} and hits[2] == {}
    assert hits[3] == {0: "volunteering", 1: "tenancy"}


def test_tagging_uses_the_codebooks_words_and_gives_evidence():
    from pipelines.analysis.concepts import concept_prototypes, tag_excerpts

    concepts = [
        _concept("mine", "housing", "Housing and tenancy", ["tenancy", "eviction"]),
        _concept("mine", "sobriety", "Sobriety and abstinence", ["abstinence", "sober"]),
        _concept("mine", "work", "Work and employment", ["employment", "job"]),
    ]
    texts = [
        "After the eviction she found a tenancy of her own.",
        "Staying sober meant abstinence from every drink.",
        "A job gave him employment and routine.",
        "He spoke about the weather and the football.",
    ] * 3
    embedder = HashEmbedder()
    proto_texts, owners = concept_prototypes(concepts)
    tagging = tag_excerpts(
        texts, embedder.encode(texts), concepts, embedder.encode(proto_texts), owners
    )
    expected = ["mine/housing", "mine/sobriety", "mine/work"]
    for i, key in enumerate(expected):
        assert tagging.tags[i][0]["concept"] == key
        assert "cue phrase" in tagging.tags[i][0]["evidence"]
        assert tagging.tags[i][0]["word_overlap"] > 0
    assert all(len(row) <= 3 for row in tagging.tags)


def test_a_users_codebook_is_tagged_apart_from_the_bundled_frameworks(tmp_path):
    """A codebook's tags do not depend on which other frameworks are loaded, and the bundled
    frameworks cannot crowd it out of the three-tag cap."""
    from pipelines.analysis.concepts import load_framework, load_frameworks
    from pipelines.analysis.run import tag_by_framework_group
    from pipelines.analysis.themes import theme_space

    frame = pd.read_csv(ROOT / "corpus" / "excerpts.csv").head(120)
    texts = frame["text"].tolist()
    embedder = HashEmbedder()
    vectors = theme_space(embedder.encode(texts), frame["field"].tolist())
    codebook = load_framework(ROOT / "benchmarks" / "devset" / "codebook.yaml")
    alone = tag_by_framework_group(texts, vectors, [codebook], embedder=embedder)
    together = tag_by_framework_group(
        texts,
        vectors,
        load_frameworks([ROOT / "benchmarks" / "devset" / "codebook.yaml"]),
        embedder=embedder,
    )
    mine = [[t for t in row if t["concept"].startswith("dev/")] for row in together]
    assert mine == alone
    assert any(len(row) > 3 for row in together)  # bundled tags come on top, not instead
    assert all(len(row) <= 3 for row in alone)
    assert all(
        [t["score"] for t in row] == sorted((t["score"] for t in row), reverse=True)
        for row in together
    )


def test_word_analysis_of_a_large_corpus_is_fitted_on_a_fixed_sample(monkeypatch):
    from pipelines.analysis import themes

    texts = [f"hope housing work {w} note" for w in ("family", "rent", "job", "peer")] * 10
    fields = ["a", "b"] * 20
    full = themes.lexical_space(texts, fields)
    monkeypatch.setattr(themes, "LEXICAL_FIT_MAX", 12)
    sampled = themes.lexical_space(texts, fields)
    assert sampled.shape == full.shape
    assert np.array_equal(sampled, themes.lexical_space(texts, fields))  # same sample every time
