"""What a practitioner reads (#23), on constructed data with known answers: two nested theme
levels, names free of citation debris, coverage not crowded out by one field's wording, findings
that say only what the run shows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from pipelines.analysis.clusterers import cluster_by_name, reduce_by_name
from pipelines.analysis.concepts import Concept, Framework, concept_prototypes, tag_excerpts
from pipelines.analysis.contract import Theme
from pipelines.analysis.findings import (
    concept_findings,
    concept_names,
    concept_verdicts,
    coverage_cells,
    theme_findings,
    wilson_interval,
)
from pipelines.analysis.levels import choose_broad
from pipelines.analysis.naming import (
    banned_words,
    candidate_phrases,
    modifiers,
    name_themes,
    short_label,
)
from pipelines.analysis.tagging import ConceptTags, framework_lens
from pipelines.analysis.theming import broad_level, theme_analysis
from pipelines.embed.embedders import HashEmbedder
from pipelines.errors import InputError

FIELDS = ["mental_health", "substance_use", "criminal_justice", "homelessness"]


def _hierarchy(seed: int = 4):
    """Four broad groups of three sub-groups each, 20 excerpts a sub-group, every field in each."""
    rng = np.random.default_rng(seed)
    dim = 48
    broad_centres = rng.normal(size=(4, dim)) * 3.0
    vectors, texts, fields, truth_broad, truth_fine = [], [], [], [], []
    for b in range(4):
        for s in range(3):
            centre = broad_centres[b] + rng.normal(size=dim) * 1.0
            for i in range(20):
                vectors.append(centre + rng.normal(size=dim) * 0.25)
                texts.append(f"group{b} topic{b}x{s} word{b}x{s} common text number{i % 5}")
                fields.append(FIELDS[i % 4])
                truth_broad.append(b)
                truth_fine.append(3 * b + s)
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, texts, fields, np.array(truth_broad), np.array(truth_fine)


def test_broad_level_recovers_a_known_hierarchy_and_every_fine_theme_nests_in_one():
    vectors, texts, fields, truth_broad, truth_fine = _hierarchy()
    fine = theme_analysis(vectors, texts, fields, FIELDS, seed=1)
    parent, broad, labels, table = broad_level(fine, texts, fields, FIELDS, seed=1)
    assert 4 <= len(broad) <= 10
    # Nesting: an excerpt's broad theme is its fine theme's parent, for every excerpt.
    assert np.array_equal(labels, parent[fine.labels])
    assert normalized_mutual_info_score(truth_broad, labels) > 0.9
    assert len(broad) == 4
    assert all(t.level == 1 for t in broad) and set(table["theme"]) == set(range(len(broad)))
    assert normalized_mutual_info_score(truth_fine, fine.labels) > 0.8


def test_broad_first_finds_the_known_hierarchy_with_fine_themes_inside_each_broad_one():
    """The run's default: broad themes on the main components, fine themes within each."""
    vectors, texts, fields, truth_broad, truth_fine = _hierarchy()
    fine = theme_analysis(vectors, texts, fields, FIELDS, seed=1, broad_first=True)
    assert fine.levels is not None
    parent, broad, labels, _ = broad_level(fine, texts, fields, FIELDS, seed=1)
    assert np.array_equal(labels, parent[fine.labels])
    assert len(broad) == 4 and normalized_mutual_info_score(truth_broad, labels) > 0.9
    assert normalized_mutual_info_score(truth_fine, fine.labels) > 0.8
    # Both levels' stability is measured, not assumed: well-separated groups re-form.
    assert all(t.stability >= 0.6 and not t.fragile for t in broad)
    assert np.mean([t.stability >= 0.6 for t in fine.themes]) >= 0.5
    again = theme_analysis(vectors, texts, fields, FIELDS, seed=1, broad_first=True)
    assert np.array_equal(again.labels, fine.labels)


def test_the_broad_level_does_not_depend_on_the_seed_where_its_structure_is_weak():
    """Six overlapping groups: the broad themes' stabilities lie near the 0.6 line, and a number
    of broad themes chosen by the stability of a few resamples changed with the seed. The
    number and the partition come from the data alone; only the stability is sampled."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(6, 3)) * 1.2
    points = np.vstack([c + rng.normal(size=(60, 3)) for c in centres])
    features = np.hstack([points, 0.05 * rng.normal(size=(len(points), 20))])
    ks = list(range(4, 11))
    first, _ = choose_broad(features, ks, seed=1)
    for seed in (2, 3, 4):
        other, _ = choose_broad(features, ks, seed=seed)
        assert other.max() == first.max() and adjusted_rand_score(first, other) > 0.95


def test_broad_first_on_structureless_data_marks_the_broad_level_fragile():
    """No coarse structure (one Gaussian blob in many dimensions): the broad level is still
    measured, and the measurement says it does not re-form."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(240, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"text number{i % 7} common" for i in range(240)]
    fields = [FIELDS[i % 4] for i in range(240)]
    fine = theme_analysis(vectors, texts, fields, FIELDS, seed=1, broad_first=True)
    _, broad, _, _ = broad_level(fine, texts, fields, FIELDS, seed=1)
    assert np.mean([t.fragile for t in broad]) > 0.5


def test_unknown_clusterer_or_reducer_lists_the_known_names():
    vectors = np.eye(4, dtype=np.float32)
    with pytest.raises(InputError) as error:
        cluster_by_name("hdbscan", vectors, seed=0)
    assert "unknown clusterer 'hdbscan'" in str(error.value) and "kmeans, ward" in str(error.value)
    with pytest.raises(InputError) as error:
        reduce_by_name("umap", vectors, seed=0)
    assert "pca, tsne" in str(error.value) and "[E050]" in str(error.value)


CITED = [
    "Deegan (1988) argues that recovery means a valued sense of self; the authors describe hope.",
    "Deegan and White et al. report that a valued sense of self grows through peer support groups.",
    "As SAMHSA states, a valued sense of self and peer support groups matter; the review agrees.",
    "In 2012 White writes that peer support groups build a valued sense of self over years.",
]


def _theme(size: int) -> Theme:
    return Theme(
        key="T1",
        index=0,
        label="",
        size=size,
        key_terms=["deegan", "sense", "white", "samhsa"],
        term_weights=[],
        stability=1.0,
        fragile=False,
        verdict="shared",
        verdict_field=None,
        verdict_reason="",
        representatives={},
    )


def test_names_and_key_terms_carry_no_citation_debris():
    embedder = HashEmbedder()
    theme = _theme(len(CITED))
    tags = ConceptTags([[] for _ in CITED], {}, {})
    name_themes(
        [theme],
        [np.zeros(len(CITED), dtype=int)],
        CITED,
        embedder.encode(CITED),
        tags,
        [],
        encode=embedder.encode,
        surnames=frozenset({"deegan"}),
    )
    banned = {"deegan", "white", "samhsa", "et", "al", "authors", "review", "2012", "1988"}
    words = set(theme.label.lower().split()) | {w for t in theme.key_terms for w in t.split()}
    assert not words & banned, (theme.label, theme.key_terms)
    assert 2 <= len(theme.label.split()) <= 5
    assert theme.label.lower() in {
        "valued sense",
        "peer support groups",
        "sense of self",
        "peer support",
        "support groups",
        "valued sense of self",
    }


def test_banned_words_find_proper_nouns_but_keep_concept_words():
    framework = Framework(
        "f", "F", None, "model", "", [Concept("f", "home", "Housing First", "", ["a home first"])]
    )
    texts = CITED + ["Housing First offers a home. Housing First is a model.", "a home first."]
    banned = banned_words(texts, frozenset(), [framework])
    assert {"white", "samhsa", "authors"} <= banned
    assert "housing" not in banned and "first" not in banned
    assert "peer support" in candidate_phrases(CITED, banned)


def test_short_label_keeps_five_words_at_most():
    assert short_label("Hope and optimism about the future") == "Hope and optimism"
    assert short_label("Recovery from being a patient (services and institutions)") == (
        "Recovery from being a patient"
    )
    assert short_label("Connectedness") == "Connectedness"
    assert short_label("People have a right to a home") is None  # no cut leaves a name


def test_phrases_never_cross_punctuation():
    texts = ["Hope, personal responsibility, education.", "hope, personal responsibility and more"]
    phrases = candidate_phrases(texts, frozenset())
    assert "personal responsibility" in phrases and "hope personal responsibility" not in phrases


def test_phrases_are_not_counts_or_clause_fragments():
    """'Million people' says how big a study was and 'interventions focused' is half a clause:
    neither names a theme; 'peer support needs' still does."""
    texts = [
        "Two million people; interventions focused on housing; peer support needs.",
        "Some million people. Interventions focused on work. Peer support needs.",
    ]
    phrases = candidate_phrases(texts, banned_words(texts, frozenset(), []))
    assert "million people" not in phrases and "interventions focused" not in phrases
    assert "peer support needs" in phrases


def test_no_phrase_ends_with_a_word_that_modifies_the_next():
    """'psychiatric' is followed by a content word nearly every time it is used: a phrase ending
    with it ('people with psychiatric') is cut short, and 'psychiatric services' is whole."""
    texts = [
        f"Care for people with psychiatric {n}; people with psychiatric {n} recover."
        for n in ("diagnoses", "disabilities", "histories", "labels", "conditions")
    ] * 2
    no_end = modifiers(texts)
    assert "psychiatric" in no_end and "people" not in no_end and "recover" not in no_end
    phrases = candidate_phrases(texts, frozenset(), no_end=no_end)
    assert "people with psychiatric" not in phrases and "psychiatric diagnoses" in phrases
    assert "people with psychiatric" in candidate_phrases(texts, frozenset())


def test_coverage_is_not_crowded_out_by_a_framework_written_in_one_fields_words():
    """Identity excerpts in criminal justice are written in desistance words; a desistance
    framework's concepts match them better. Tagged together, the cap of three gives the places to
    the desistance concepts; read through its own framework, the generic concept keeps them."""
    embedder = HashEmbedder()
    generic = [
        Concept(
            "g",
            "identity",
            "Identity",
            "a new sense of self and identity",
            ["identity", "sense of self", "new self"],
        )
    ]
    desistance = [
        Concept(
            "d",
            f"phase{i}",
            f"Desistance phase {i}",
            "desistance from offending and crime",
            [f"desistance offending crime phase{i}", "desistance", "offending"],
        )
        for i in range(4)
    ]
    texts = [
        f"desistance from offending and crime builds a new identity and sense of self {i}"
        for i in range(12)
    ]
    texts += [f"housing and income matter for everyone number {i}" for i in range(12)]
    concepts = generic + desistance
    protos, owners = concept_prototypes(concepts)
    tagging = tag_excerpts(texts, embedder.encode(texts), concepts, embedder.encode(protos), owners)
    together = sum("g/identity" in {t["concept"] for t in row} for row in tagging.tags[:12])
    alone = framework_lens(concepts, tagging)["g/identity"][:12].sum()
    assert together < 12 and alone == 12


def test_wilson_interval_and_small_cells():
    low, high = wilson_interval(10, 100)
    assert 0.05 < low < 0.1 < high < 0.18
    cells = coverage_cells({"c/x": {"a": 3, "b": 40}}, {"a": 100, "b": 100}, ["c/x"])
    assert cells.set_index("field")["too_small"].to_dict() == {"a": True, "b": False}


def test_findings_say_only_what_the_run_shows():
    shared = _theme(40)
    shared.label, shared.verdict, shared.fragile, shared.stability = "Hope", "shared", True, 0.4
    shared.level = 1
    labels = {f: f.replace("_", " ").capitalize() for f in FIELDS}
    found = theme_findings([shared], [], labels, 4)
    assert len(found) == 1 and found[0].sentence.startswith("All 4 fields write about hope: 40")
    assert "fragile" in found[0].sentence and "broad theme" in found[0].sentence
    # One field: nothing is "shared by all 1 fields".
    assert theme_findings([shared], [], labels, 1) == []
    counts = {
        "c/x": {f: 10 for f in FIELDS},
        "c/y": {"mental_health": 30, "substance_use": 0, "criminal_justice": 0, "homelessness": 0},
    }
    totals = {f: 100 for f in FIELDS}
    judged = concept_verdicts(counts, totals, FIELDS)
    sentences = concept_findings(judged, {"c/x": "X", "c/y": "Y"}, FIELDS, labels)
    verdicts = {f.key: (f.verdict, f.field) for f in sentences}
    assert verdicts == {"c/x": ("shared", None), "c/y": ("distinctive", "mental_health")}
    assert all("framework concept" in f.sentence for f in sentences)
    # A label that is a clause reads as a name: quoted, with its framework.
    star = Framework(
        "housing_first",
        "Housing First principles (England)",
        None,
        "model",
        "",
        [Concept("housing_first", "orient", "Based on strengths, goals and aspirations", "", [])],
    )
    names = concept_names([star])
    (shared,) = concept_findings(judged[:1], {"c/x": names["housing_first/orient"]}, FIELDS, labels)
    assert (
        "write about “Based on strengths, goals and aspirations” (Housing First principles):"
        in (shared.sentence)
    )


def test_the_start_pages_findings_do_not_import_scipy():
    """The first page reads findings: the statistics run at build time, not on page load."""
    import subprocess
    import sys

    code = "import sys, pipelines.analysis.findings; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_broad_theme_shared_only_through_each_fields_own_themes_says_so():
    """Fine themes each distinctive to another field can add up to a broad theme every field
    writes about; the sentence then names them instead of saying only that all fields share it."""
    broad = _theme(60)
    broad.key, broad.label, broad.verdict, broad.level = "B1", "Life after", "shared", 1
    children = []
    for key, label, size, verdict, field in (
        ("T1", "Housing first", 25, "distinctive", "homelessness"),
        ("T2", "Age-graded theory", 20, "distinctive", "criminal_justice"),
        ("T3", "User voice", 15, "mixed", None),
    ):
        child = _theme(size)
        child.key, child.label, child.parent = key, label, "B1"
        child.verdict, child.verdict_field = verdict, field
        children.append(child)
    labels = {f: f.replace("_", " ").capitalize() for f in FIELDS}
    sentence = theme_findings([broad], children, labels, 4)[0].sentence
    assert sentence.startswith("All 4 fields write about life after: 60 excerpts")
    assert (
        "but mostly through themes of their own: 'Housing first' (homelessness), "
        "'Age-graded theory' (criminal justice)" in sentence
    )
    assert "it holds the themes 'User voice'" in sentence
    # Own themes holding under half the excerpts, or all of one field, change nothing.
    children[0].verdict_field = "criminal_justice"
    assert "of their own" not in theme_findings([broad], children, labels, 4)[0].sentence


def test_a_theme_of_several_fields_is_not_named_by_one_fields_phrase():
    """'Recovery from schizophrenia' named a theme and a definition family of four fields after the
    mental-health excerpts in it; a theme no field dominates takes a phrase two fields use."""
    texts = [
        "Recovery from schizophrenia takes years of steady work.",
        "Recovery from schizophrenia was measured over a decade.",
        "A stable home made a settled life possible.",
        "A stable home gave the time to rebuild.",
        "Leaving prison, a stable home came first.",
        "After prison, a stable home and work.",
        "Something else entirely, another theme.",
        "Something else again, the other theme.",
    ]
    fields = ["mental_health"] * 2 + ["homelessness"] * 2 + ["criminal_justice"] * 2
    fields += ["substance_use"] * 2
    labels = np.array([0] * 6 + [1] * 2)
    # Theme 0's centre, less the corpus's, points nearest the schizophrenia phrase.
    vectors = np.array([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 2)

    def encode(items):
        return np.array([[1.0, 0.0] if "schizophrenia" in t else [0.6, 0.8] for t in items])

    for given, expected in ((None, "Recovery from schizophrenia"), (fields, "Stable home")):
        theme = _theme(6)
        name_themes(
            [theme],
            [labels],
            texts,
            vectors,
            ConceptTags([[] for _ in texts], {}, {}),
            [],
            encode=encode,
            surnames=frozenset(),
            fields=given,
        )
        assert theme.label == expected
