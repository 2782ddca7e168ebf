"""Schema and integrity of the bundled corpus and the concept frameworks, and the counts the corpus
issue promises."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from pipelines.analysis.concepts import all_concepts, load_frameworks
from pipelines.ingest.records import EVIDENCE_TYPES, KINDS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIELDS = {"mental_health": 90, "substance_use": 90, "criminal_justice": 90, "homelessness": 70}


def _rows(name):
    with (CORPUS / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


SOURCES = _rows("sources.csv")
EXCERPTS = _rows("excerpts.csv")
BY_ID = {s["source_id"]: s for s in SOURCES}


def test_columns():
    assert list(SOURCES[0]) == [
        "source_id",
        "authors",
        "year",
        "title",
        "venue",
        "doi",
        "url",
        "evidence_type",
        "citation",
        "checked",
    ]
    assert list(EXCERPTS[0]) == ["id", "source_id", "field", "kind", "page", "text"]


def test_ids_unique_and_links_complete():
    assert len({s["source_id"] for s in SOURCES}) == len(SOURCES)
    assert len({e["id"] for e in EXCERPTS}) == len(EXCERPTS)
    used = {e["source_id"] for e in EXCERPTS}
    assert used <= set(BY_ID), used - set(BY_ID)
    assert set(BY_ID) <= used, set(BY_ID) - used


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s["source_id"])
def test_source_record(source):
    assert source["evidence_type"] in EVIDENCE_TYPES
    assert re.fullmatch(r"\d{4}", source["year"])
    assert source["title"] and source["authors"] and source["citation"]
    assert source["year"] in source["citation"]
    assert source["checked"], "every source says how it was checked"
    if source["doi"]:
        assert re.fullmatch(r"10\.\d{4,9}/\S+", source["doi"]), source["doi"]


@pytest.mark.parametrize("excerpt", EXCERPTS, ids=lambda e: e["id"])
def test_excerpt_record(excerpt):
    assert excerpt["field"] in FIELDS
    assert excerpt["kind"] in KINDS
    assert 20 <= len(excerpt["text"].split()) <= 120


def test_counts_per_field_and_evidence_type():
    per_field = Counter(e["field"] for e in EXCERPTS)
    assert len(EXCERPTS) >= 700
    for field, minimum in FIELDS.items():
        assert per_field[field] >= minimum, field
    definitions = Counter(e["field"] for e in EXCERPTS if e["kind"] == "definition")
    for field in FIELDS:
        assert definitions[field] >= 35, field
    assert len(SOURCES) >= 350
    lived = [s for s in SOURCES if s["evidence_type"] == "lived_experience"]
    assert len(lived) >= 0.25 * len(SOURCES)
    lived_by_field = Counter()
    for field in FIELDS:
        lived_by_field[field] = len(
            {
                e["source_id"]
                for e in EXCERPTS
                if e["field"] == field
                and BY_ID[e["source_id"]]["evidence_type"] == "lived_experience"
            }
        )
        assert lived_by_field[field] >= 10, field


def test_recent_work():
    recent = [e for e in EXCERPTS if 2016 <= int(BY_ID[e["source_id"]]["year"]) <= 2026]
    # the first edition had 123 excerpts from 2016-2026; the second adds at least 120 (issue 26)
    assert len(recent) >= 123 + 120


# Hosts of uploaded copies (issue 26): a url is the DOI, the publisher, an official or institutional
# repository or the issuing organisation's page, never a copy someone uploaded.
SHARING_HOSTS = (
    "scribd", "docslib", "vdocuments", "vdocument.in", "dokumen.tips", "dokumen.pub",
    "researchgate", "studylib", "studylibit", "1library", "yumpu", "fdocuments", "pdfslide",
    "docsbay", "docksci", "vdoc.pub", "5y1.org", "study.space", "academia.edu", "pdfcoffee",
    "coursehero", "issuu", "slideshare", "docplayer", "fliphtml5", "healthdocbox", "abcdocz",
    "dadospdf",
)  # fmt: skip


def _sharing_host(url):
    host = (urlparse(url).hostname or "").lower()
    for name in SHARING_HOSTS:
        if host == name or host.endswith("." + name) or name in host.split("."):
            return name
    return None


def test_no_document_sharing_urls():
    shared = {s["source_id"]: s["url"] for s in SOURCES if _sharing_host(s["url"])}
    assert not shared, shared


def test_sharing_hosts_are_recognised():
    assert _sharing_host("https://www.scribd.com/document/1/x") == "scribd"
    assert _sharing_host("https://info.5y1.org/x.html") == "5y1.org"
    assert _sharing_host("https://www.researchgate.net/publication/1") == "researchgate"
    assert _sharing_host("https://doi.org/10.1080/10683160802516273") is None
    assert _sharing_host("https://pmc.ncbi.nlm.nih.gov/articles/PMC1448313") is None


def test_no_exact_duplicate_texts():
    texts = Counter(" ".join(e["text"].lower().split()) for e in EXCERPTS)
    assert max(texts.values()) == 1


def test_frameworks_load_and_the_crosswalk_is_complete():
    frameworks = load_frameworks([])
    ids = {f.id for f in frameworks}
    required = {
        "chime",
        "personal_clinical",
        "mh_recovery_star",
        "betty_ford",
        "ukdpc",
        "samhsa",
        "recovery_capital",
        "arc",
        "desistance_phases",
        "turning_points",
        "cognitive_transformation",
        "redemption_script",
        "good_lives",
        "justice_star",
        "housing_first",
        "pie",
        "cross_field",
    }
    assert required <= ids
    concepts = all_concepts(frameworks)
    keys = {c.key for c in concepts}
    links = [(c.key, target, why) for c in concepts for target, why in c.related]
    assert len(links) >= 60
    for source, target, why in links:
        assert target in keys, (source, target)
        assert why, (source, target)
        assert source.split("/")[0] != target.split("/")[0]
    linked = {s for s, _, _ in links} | {t for _, t, _ in links}
    for concept in concepts:
        assert concept.key in linked or concept.distinctive, concept.key
        assert concept.description and len(concept.cues) >= 3
    for framework in frameworks:
        assert framework.citation


def test_bibliography_is_current():
    from pipelines.bibliography import render_bibliography

    assert (CORPUS / "BIBLIOGRAPHY.md").read_text(encoding="utf-8") == render_bibliography(SOURCES)
