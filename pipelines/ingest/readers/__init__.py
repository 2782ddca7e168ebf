"""Readers turn a file into validated records; one module per format, registered by name.

A new format is one new module that calls `register` (from `base`) plus one import line below.
The shared machinery lives in `base`, which imports no reader, so no reader module and the
package import each other in a circle.
"""

from __future__ import annotations

# Registration happens on import; keep this list in step with the modules in this package.
from pipelines.ingest.readers import (  # noqa: F401
    bibtex,
    docx,
    jsonl,
    parquet,
    pdf,
    ris,
    tabular,
    text,
    wos,
)

# The package's interface, from `base`.
from pipelines.ingest.readers.base import (  # noqa: F401
    MAX_FILE_BYTES,
    MAX_UNZIPPED_BYTES,
    READERS,
    Reader,
    ReaderSpec,
    ReadOptions,
    RecordStream,
    check_zip,
    decode_text,
    file_source,
    iter_text_lines,
    one_line,
    quiet_libraries,
    read_file,
    reader_for,
    register,
)
