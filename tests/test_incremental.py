"""Scale behaviour (#7) with the fast hash embedder: a few new excerpts are placed into the current
themes (and the run says when a full rebuild would change them), only new text is embedded, and
the sampled layout and stability stay deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from pipelines import store
from pipelines.analysis import incremental, layout, themes
from pipelines.analysis.run import run_analysis
from pipelines.embed.embedders import HashEmbedder, embed_missing
from pipelines.ingest.files import ingest_bundled_corpus, ingest_paths

OFF_TOPIC = "Quarterly semiconductor yields {i} improved wafer lithography throughput metrics."


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The bundled corpus analysed once from scratch with the hash embedder (a store to copy)."""
    path = tmp_path_factory.mktemp("incremental") / "store.sqlite"
    conn = store.connect(path)
    ingest_bundled_corpus(conn)
    embed_missing(conn, HashEmbedder())
    outcome = run_analysis(conn, embedder=HashEmbedder(), frameworks=None, seed=3)
    conn.close()
    return path, outcome.run_id


def copy_of(base, tmp_path):
    path, _ = base
    copy = tmp_path / "copy.sqlite"
    store.connect(path).execute(f"VACUUM INTO '{copy}'")
    return store.connect(copy)


def add(conn, tmp_path, template: str | None, count: int, *, name="extra"):
    """Ingest `count` new excerpts: `template` with a number, or (None) variants of stored
    excerpts with their first word dropped, which belong to the existing themes."""
    if template is None:
        stored = conn.execute(
            "SELECT text, field FROM excerpts ORDER BY id LIMIT ? OFFSET 40", (count,)
        ).fetchall()
        texts = [(" ".join(t.split()[1:]), f) for t, f in stored]
    else:
        texts = [(template.format(i=i), "criminal_justice") for i in range(count)]
    rows = ["id,text,field"] + [
        f'{name}{i},"{text.replace(chr(34), chr(39))}",{field}'
        for i, (text, field) in enumerate(texts)
    ]
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ingest_paths(conn, [path])
    return embed_missing(conn, HashEmbedder())


def build(conn, **options):
    return run_analysis(conn, embedder=HashEmbedder(), frameworks=None, seed=3, **options)


def test_a_few_new_excerpts_are_placed_into_the_existing_themes(base, tmp_path):
    conn = copy_of(base, tmp_path)
    _, first = base
    before = store.run_result(conn, first, "assignments")
    before_themes = store.run_result(conn, first, "themes")
    report = add(conn, tmp_path, None, 10)
    assert report.embedded == 10
    outcome = build(conn)
    assert outcome.summary["placed into existing themes"] == 10
    assert outcome.summary["themes"] == len(before_themes)
    after = store.run_result(conn, outcome.run_id, "assignments")
    assert len(after) == len(before) + 10
    assert all(after[i] == key for i, key in before.items())  # nobody moved
    record = store.run_result(conn, outcome.run_id, "incremental")
    assert record["base_run"] == first and record["new"] == 10
    assert record["rebuild_would_change_themes"] is False
    assert incremental.rebuild_notice(conn, outcome.run_id) is None
    sizes = {t["theme_key"]: t["size"] for t in store.run_result(conn, outcome.run_id, "themes")}
    assert sum(sizes.values()) == len(after)
    layout_result = store.run_result(conn, outcome.run_id, "layout")
    assert len(layout_result["ids"]) == len(after)
    assert "placed by nearest neighbours" in layout_result["method"]


def test_new_excerpts_far_from_every_theme_say_a_full_rebuild_would_change_them(
    base, tmp_path, capsys
):
    from pipelines.cli import main

    conn = copy_of(base, tmp_path)
    add(conn, tmp_path, OFF_TOPIC, 12, name="chip")
    status = main(["build", "--db", str(tmp_path / "copy.sqlite"), "--seed", "3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "placed into existing themes: 12" in out
    assert "a full rebuild (`build --full`) would change the themes" in out
    run = store.latest_run(conn)
    notice = incremental.rebuild_notice(conn, run["id"])
    assert notice and "build --full" in notice and "far from every theme" in notice

    status = main(["build", "--db", str(tmp_path / "copy.sqlite"), "--seed", "3", "--full"])
    out = capsys.readouterr().out
    assert status == 0 and "placed into existing themes" not in out and "reused" not in out
    assert incremental.rebuild_notice(conn, store.latest_run(conn)["id"]) is None


def test_full_rebuild_after_placement_equals_a_fresh_build(base, tmp_path):
    conn = copy_of(base, tmp_path)
    add(conn, tmp_path, None, 10)
    build(conn)
    full = build(conn, full=True)
    assert "placed into existing themes" not in full.summary

    fresh = store.connect(tmp_path / "fresh.sqlite")
    ingest_bundled_corpus(fresh)
    add(fresh, tmp_path, None, 10)
    again = build(fresh)
    for name in ("themes", "tags", "layout", "definitions"):
        ours = store.run_result(conn, full.run_id, name)
        theirs = store.run_result(fresh, again.run_id, name)
        if name == "themes":  # theme keys (and so parents' keys) differ by history; nothing else
            keys = {"theme_key", "parent"}
            ours = [{k: v for k, v in t.items() if k not in keys} for t in ours]
            theirs = [{k: v for k, v in t.items() if k not in keys} for t in theirs]
        assert ours == theirs, name


def test_many_new_excerpts_re_cluster_from_scratch(base, tmp_path):
    conn = copy_of(base, tmp_path)
    total = conn.execute("SELECT COUNT(*) FROM excerpts").fetchone()[0]
    many = int(total * incremental.MAX_SHARE) + 5
    add(conn, tmp_path, None, many)
    outcome = build(conn)
    assert "placed into existing themes" not in outcome.summary
    assert store.run_result(conn, outcome.run_id, "incremental")["placed_since_full"] == 0


def test_a_removed_source_re_clusters_from_scratch(base, tmp_path):
    conn = copy_of(base, tmp_path)
    add(conn, tmp_path, None, 5)
    source = conn.execute("SELECT MIN(source_id) FROM excerpts").fetchone()[0]
    store.delete_source(conn, source)
    outcome = build(conn)
    assert "placed into existing themes" not in outcome.summary


def test_adding_100_excerpts_embeds_exactly_100(base, tmp_path, capsys):
    from pipelines.cli import main

    conn = copy_of(base, tmp_path)
    conn.close()
    db = str(tmp_path / "copy.sqlite")
    rows = ["id,text,field"] + [
        f'h{i},"Hundred new excerpt {i} about mutual aid and stigma.",substance_use'
        for i in range(100)
    ]
    (tmp_path / "hundred.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["ingest", "--db", db, str(tmp_path / "hundred.csv")]) == 0
    capsys.readouterr()
    assert main(["build", "--db", db, "--model", "hash-256"]) == 0
    out = capsys.readouterr().out
    assert "embedded 100 new texts of" in out
    assert main(["build", "--db", db, "--model", "hash-256"]) == 0
    out = capsys.readouterr().out
    assert "nothing new to embed" in out and "unchanged, reused" in out


def test_sampled_layout_is_deterministic_and_places_everyone(monkeypatch):
    monkeypatch.setattr(layout, "TSNE_SAMPLE", 60)
    vectors, blob = make_blobs(300, n_features=16, centers=4, random_state=42)
    vectors = themes.normalise(vectors.astype(np.float32))
    first, method = layout.layout_2d(vectors, seed=1)
    second, _ = layout.layout_2d(vectors, seed=1)
    assert np.array_equal(first, second)
    assert "sample" in method and first.shape == (300, 2) and np.isfinite(first).all()
    # Placed points land with their own blob: nearest mapped blob centre is their own.
    centres = np.vstack([first[blob == b].mean(axis=0) for b in range(4)])
    nearest = np.argmin(((first[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == blob).mean() > 0.95


def test_subsampled_stability_is_deterministic_and_high_on_clean_blobs(monkeypatch):
    monkeypatch.setattr(themes, "STABILITY_SAMPLE", 200)
    vectors, _ = make_blobs(900, n_features=12, centers=5, random_state=42)
    vectors = themes.normalise(vectors.astype(np.float32))
    clustering = themes.cluster(vectors, seed=0, k=5)
    first = themes.stability(vectors, clustering.labels, k=5, seed=0)
    second = themes.stability(vectors, clustering.labels, k=5, seed=0)
    assert np.array_equal(first, second)
    assert first.min() > 0.9
