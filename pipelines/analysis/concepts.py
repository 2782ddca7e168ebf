"""Concept frameworks and codebooks (YAML), and calibrated multi-label concept tagging.

Tagging scores every excerpt against every concept through three channels: embedding similarity
to the concept's label + description and to its cue phrases (their mean), word overlap with the
concept's label, description and cues (stemmed TF-IDF cosine), and a bonus when a cue phrase occurs
literally. The first two are calibrated per concept (a z-score against that concept's own score
distribution over the corpus), so a concept whose words are generically similar to everything does
not tag everything and a narrow one is not starved, then blended with the excerpt's own ranking of
the concepts. An excerpt takes the concepts that pass the bar, best first, at most `max_tags`; each
tag carries its score and the evidence that matched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import numpy as np
import yaml

from pipelines.errors import input_error
from pipelines.ingest.records import FIELD_SLUG

CONCEPTS_DIR = Path(__file__).resolve().parents[2] / "concepts"
SLUG = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class Concept:
    framework: str
    id: str
    label: str
    description: str
    cues: list[str]
    related: list[tuple[str, str]] = dc_field(default_factory=list)  # (framework/concept, why)
    distinctive: str | None = None

    @property
    def key(self) -> str:
        return f"{self.framework}/{self.id}"


@dataclass
class Framework:
    id: str
    label: str
    field: str | None
    kind: str
    citation: str
    concepts: list[Concept]
    path: str = ""

    def to_json(self) -> dict:
        """The framework as a run stores it (without its file path)."""
        return {
            "id": self.id,
            "label": self.label,
            "field": self.field,
            "kind": self.kind,
            "citation": self.citation,
            "concepts": [
                {
                    "key": c.key,
                    "label": c.label,
                    "description": c.description,
                    "cues": c.cues,
                    "related": [list(r) for r in c.related],
                    "distinctive": c.distinctive,
                }
                for c in self.concepts
            ],
        }

    @classmethod
    def from_json(cls, value: dict) -> Framework:
        concepts = [
            Concept(
                framework=value["id"],
                id=c["key"].split("/", 1)[1],
                label=c["label"],
                description=c["description"],
                cues=list(c["cues"]),
                related=[(target, why) for target, why in c["related"]],
                distinctive=c.get("distinctive"),
            )
            for c in value["concepts"]
        ]
        return cls(
            value["id"], value["label"], value["field"], value["kind"], value["citation"], concepts
        )


def _fail(path: Path, detail: str):
    return input_error("E026", path, detail=detail)


# libyaml's safe parser when PyYAML has it (about ten times faster on the bundled frameworks);
# either way only plain data is built, never Python objects.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_framework(path: Path) -> Framework:
    """Parse and validate one framework/codebook file; a malformed one is a clear E026 error."""
    if not path.is_file():
        raise input_error("E015", path)
    try:
        loader = _YAML_LOADER(path.read_text(encoding="utf-8"))
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise input_error(
            "E026", path, row=where, detail=str(getattr(exc, "problem", exc))
        ) from None
    except UnicodeDecodeError:
        raise _fail(path, "the file is not UTF-8 text") from None
    if not isinstance(data, dict) or not isinstance(data.get("framework"), dict):
        raise _fail(path, "the top level needs a 'framework:' mapping and a 'concepts:' list")
    head = data["framework"]
    framework_id = str(head.get("id") or "")
    if not SLUG.match(framework_id):
        raise _fail(path, f"framework.id '{framework_id}' must be a lower-case slug")
    field = head.get("field")
    if field is not None and not FIELD_SLUG.match(str(field)):
        raise _fail(path, f"framework.field '{field}' must be a field slug or null")
    items = data.get("concepts")
    if not isinstance(items, list) or not items:
        raise _fail(path, "'concepts:' must be a non-empty list")
    concepts: list[Concept] = []
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        concept = _concept(path, framework_id, number, item)
        if concept.id in seen:
            raise _fail(path, f"concept id '{concept.id}' appears twice")
        seen.add(concept.id)
        concepts.append(concept)
    return Framework(
        id=framework_id,
        label=str(head.get("label") or framework_id),
        field=field,
        kind=str(head.get("kind") or "model"),
        citation=str(head.get("citation") or ""),
        concepts=concepts,
        path=str(path),
    )


def _concept(path: Path, framework_id: str, number: int, item) -> Concept:
    """One entry of a framework's `concepts:` list, validated."""
    if not isinstance(item, dict):
        raise _fail(path, f"concept {number} must be a mapping")
    concept_id = str(item.get("id") or "")
    if not SLUG.match(concept_id):
        raise _fail(path, f"concept {number}: id '{concept_id}' must be a lower-case slug")
    if not item.get("label"):
        raise _fail(path, f"concept '{concept_id}' has no label")
    cues = item.get("cues") or []
    if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
        raise _fail(path, f"concept '{concept_id}': cues must be a list of phrases")
    related = []
    for link in item.get("related") or []:
        if isinstance(link, str):
            related.append((link, ""))
        elif isinstance(link, dict) and isinstance(link.get("to"), str):
            related.append((link["to"], str(link.get("why") or "")))
        else:
            raise _fail(
                path,
                f"concept '{concept_id}': each related entry is 'framework/concept' or {{to, why}}",
            )
        if "/" not in related[-1][0]:
            raise _fail(
                path,
                f"concept '{concept_id}': related '{related[-1][0]}' must be written framework/concept",
            )
    return Concept(
        framework=framework_id,
        id=concept_id,
        label=str(item["label"]),
        description=str(item.get("description") or ""),
        cues=[c.strip() for c in cues if c.strip()],
        related=related,
        distinctive=item.get("distinctive"),
    )


def _load_any(path: Path) -> Framework:
    """A YAML framework, or a REFI-QDA codebook (`.qdc`, from NVivo, MAXQDA, ATLAS.ti, QualCoder)."""
    if path.suffix.lower() == ".qdc":
        from pipelines.handoff.codebook import load_qdc

        return load_qdc(path)
    return load_framework(path)


def load_frameworks(paths: list[Path] | None = None, *, bundled: bool = True) -> list[Framework]:
    """The bundled frameworks plus any codebooks; ids must be unique; links may dangle only
    towards frameworks that are not loaded (a user's codebook may cite ours)."""
    files = sorted(CONCEPTS_DIR.glob("*.yaml")) if bundled else []
    frameworks = [load_framework(p) for p in files]
    for path in paths or []:
        frameworks.append(_load_any(Path(path)))
    ids: dict[str, str] = {}
    for framework in frameworks:
        if framework.id in ids:
            raise input_error(
                "E026",
                framework.path,
                detail=f"framework id '{framework.id}' is already used by {ids[framework.id]}",
            )
        ids[framework.id] = framework.path
    return frameworks


def all_concepts(frameworks: list[Framework]) -> list[Concept]:
    return [c for f in frameworks for c in f.concepts]


def is_bundled(framework: Framework) -> bool:
    """Whether `framework` is one of the project's own (concepts/*.yaml), not a user's codebook."""
    return bool(framework.path) and Path(framework.path).parent == CONCEPTS_DIR


def concepts_by_key(frameworks: list[Framework]) -> dict[str, Concept]:
    """Every concept of `frameworks` by its key (`chime/hope`)."""
    return {c.key: c for c in all_concepts(frameworks)}


def owners(frameworks: list[Framework]) -> dict[str, Framework]:
    """The framework each concept (by key) belongs to."""
    return {c.key: f for f in frameworks for c in f.concepts}


# --- tagging ------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9']+")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


def cue_hits(texts: list[str], concepts: list[Concept]) -> list[dict[int, str]]:
    """For each text, the concepts (by index) whose cue phrase occurs in it (stemmed), with the cue
    (a concept's first cue, in codebook order, that occurs)."""
    # Cues by their first stem, so each text is scanned once, word by word, whatever the number of
    # cues (testing every cue against every text took minutes at 100,000 excerpts).
    by_first: dict[str, list[tuple[int, int, tuple[str, ...], str]]] = {}
    order = 0
    for j, concept in enumerate(concepts):
        for cue in concept.cues:
            stems = tuple(_stems(cue))
            if stems and (len(stems) > 1 or len(stems[0]) >= 5):
                by_first.setdefault(stems[0], []).append((order, j, stems, cue))
                order += 1
    hits: list[dict[int, str]] = []
    for text in texts:
        stems = _stems(text)
        best: dict[int, tuple[int, str]] = {}
        for i, stem in enumerate(stems):
            for rank, j, cue_stems, cue in by_first.get(stem, ()):
                if tuple(stems[i : i + len(cue_stems)]) == cue_stems and (
                    j not in best or rank < best[j][0]
                ):
                    best[j] = (rank, cue)
        hits.append({j: cue for j, (_, cue) in sorted(best.items())})
    return hits


@dataclass
class Tagging:
    """Per excerpt: the tagged concept keys, best first, with score and matched evidence."""

    keys: list[str]
    tags: list[list[dict]]
    scores: np.ndarray  # excerpts x concepts, calibrated z-scores
    z: np.ndarray | None = None  # excerpts x concepts, each concept's own calibration only
    cue: np.ndarray | None = None  # excerpts x concepts, True where a cue phrase occurs
    similarity: np.ndarray | None = None  # excerpts x concepts, embedding similarity (a tag's)
    lexical: np.ndarray | None = None  # excerpts x concepts, word overlap (a tag's)


def concept_prototypes(concepts: list[Concept]) -> tuple[list[str], list[int]]:
    """The texts to embed for each concept: label+description, then each cue; and their owner."""
    texts, owners = [], []
    for j, concept in enumerate(concepts):
        texts.append(f"{concept.label}. {concept.description}".strip())
        owners.append(j)
        for cue in concept.cues:
            texts.append(cue)
            owners.append(j)
    return texts, owners


def lexical_scores(texts: list[str], concepts: list[Concept]) -> np.ndarray:
    """Excerpts x concepts: cosine of stemmed, sublinear TF-IDF vectors (words and word pairs)
    between each excerpt and its concept's label, description and cues, with the excerpts as the
    corpus that sets the weights. It rewards the specific words a codebook's author chose, which a
    small sentence model blurs; all zeros when the texts share no word with any concept. No stop
    list: the inverse document frequency already discounts common words, and cues such as "over
    time" or "giving back" are made of words that stop lists drop."""
    # Imported here: scikit-learn takes seconds to load, and the app reads concepts without it.
    from sklearn.feature_extraction.text import TfidfVectorizer

    documents = [" ".join(_stems(t)) for t in texts]
    concept_documents = [
        " ".join(_stems(" ".join([c.label, c.description, *c.cues]))) for c in concepts
    ]
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, ngram_range=(1, 2), token_pattern=r"(?u)\b\w\w+\b"
    )
    try:
        excerpts = vectorizer.fit_transform(documents)
    except ValueError:  # the excerpts have no words beyond stop words
        return np.zeros((len(texts), len(concepts)), dtype=np.float32)
    return (excerpts @ vectorizer.transform(concept_documents).T).toarray().astype(np.float32)


def _standardise(x: np.ndarray, axis: int) -> np.ndarray:
    return (x - x.mean(axis=axis, keepdims=True)) / (x.std(axis=axis, keepdims=True) + 1e-6)


def tag_excerpts(
    texts: list[str],
    vectors: np.ndarray,
    concepts: list[Concept],
    prototype_vectors: np.ndarray,
    owners: list[int],
    *,
    z_threshold: float = 1.2,
    max_tags: int = 3,
    cue_bonus: float = 1.5,
    lexical_weight: float = 0.5,
) -> Tagging:
    """Calibrated multi-label tagging; see the module docstring.

    `vectors` are the excerpts' embeddings; `build` passes them field-centred (`theme_space`), so
    that a field's shared register does not pull all its excerpts towards the concepts phrased in
    that field's words. The defaults were chosen on one half of the development set and checked on
    the other (benchmarks/quality.py)."""
    n, m = len(texts), len(concepts)
    if n == 0 or m == 0:
        return Tagging([c.key for c in concepts], [[] for _ in range(n)], np.zeros((n, m)))
    sims = vectors @ prototype_vectors.T  # excerpts x prototypes
    owners_arr = np.asarray(owners)
    raw = np.full((n, m), -1.0, dtype=np.float32)
    best_proto = np.zeros((n, m), dtype=np.int64)
    for j in range(m):
        columns = np.flatnonzero(owners_arr == j)
        block = sims[:, columns]
        # The description and the mean of the cues: every cue counts, so one cue that happens to
        # resemble an excerpt's wording does not carry the concept on its own.
        cues = block[:, 1:] if block.shape[1] > 1 else block
        raw[:, j] = 0.5 * block[:, 0] + 0.5 * cues.mean(axis=1)
        best_proto[:, j] = columns[block.argmax(axis=1)]
    # Calibrate per concept: how unusual is this excerpt's score for this concept?
    lexical = lexical_scores(texts, concepts)
    z = _standardise(raw, 0) + lexical_weight * _standardise(lexical, 0)
    # and per excerpt: how does this concept rank among the excerpt's own scores?
    calibrated = 0.5 * z + 0.5 * _standardise(z, 1)
    hits = cue_hits(texts, concepts)
    cue = np.zeros((n, m), dtype=bool)
    for i, found in enumerate(hits):
        for j in found:
            calibrated[i, j] += cue_bonus
            cue[i, j] = True
    tags: list[list[dict]] = []
    for i in range(n):
        order = np.argsort(-calibrated[i], kind="stable")[:max_tags]
        chosen = []
        for j in order:
            if calibrated[i, j] < z_threshold:
                break
            concept = concepts[j]
            proto = best_proto[i, j]
            evidence = hits[i].get(j)
            if evidence:
                matched = f'cue phrase "{evidence}" in the text'
            elif proto == np.flatnonzero(owners_arr == j)[0]:
                matched = "close to the concept's description"
            else:
                cue_number = proto - np.flatnonzero(owners_arr == j)[0] - 1
                matched = f'close to the cue "{concept.cues[cue_number]}"'
            chosen.append(
                {
                    "concept": concept.key,
                    "score": round(float(calibrated[i, j]), 3),
                    "similarity": round(float(raw[i, j]), 3),
                    "word_overlap": round(float(lexical[i, j]), 3),
                    "evidence": matched,
                }
            )
        tags.append(chosen)
    return Tagging([c.key for c in concepts], tags, calibrated, z, cue, raw, lexical)
