"""The SQLite store: every SQL statement the project runs, in four modules by what they touch.

`connection` (schema, migrations, connections, transactions), `corpus` (fields, sources,
excerpts, files), `embeddings` and `runs` (runs, their results, the user's annotations). The rest
of the project imports this package (`from pipelines import store`) and calls `store.<function>`.
"""

from pipelines.store.connection import (
    DEFAULT_DB,
    MIGRATIONS,
    PROJECT_ROOT,
    connect,
    default_db_path,
    migrate,
    now,
    schema_version,
    transaction,
)
from pipelines.store.corpus import (
    EXCERPT_COLUMNS,
    add_field,
    corpus_hash,
    counts,
    counts_by_evidence_type,
    counts_by_field,
    delete_source,
    evidence_labels,
    excerpt_exists,
    excerpt_facets,
    excerpt_keys,
    excerpt_texts,
    excerpts,
    external_id_taken,
    fallback_citation,
    field_colours,
    field_labels,
    fields,
    fields_closed,
    file_digest_seen,
    insert_excerpt,
    insert_file,
    insert_source,
    set_fields_closed,
    set_file_counts,
    short_citation,
    source_id_for_key,
    source_keys,
)
from pipelines.store.embeddings import cached_hashes, load_embeddings, save_embeddings
from pipelines.store.runs import (
    annotations,
    contents_version,
    latest_run,
    run_result,
    save_run,
    set_annotation,
)

__all__ = [name for name in dir() if not name.startswith("_")]
