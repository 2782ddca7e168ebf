"""What every hand-off file needs: text that XML can carry, stable GUIDs, and an atomic write."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path

# Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF):
# a parser refuses the whole file over one of them, so they are dropped.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Fixed, so that the same key gives the same GUID in every export.
CROSSWALK_NAMESPACE = uuid.UUID("6f1c8b52-4d0e-5b7a-9a63-2f0c1d7e8a41")


def xml_text(value) -> str:
    """`value` as text an XML document can hold: None is empty, illegal characters are dropped and
    line ends are LF (a QDA tool counts positions in the text as it reads it, and a CR it drops
    would shift every position after it)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _XML_ILLEGAL.sub("", text)


def guid_maker(scope: str):
    """A function of (kind, key) giving a GUID that depends on `scope` (the corpus a run was made
    from) and on nothing else, so exports of the same run carry the same GUIDs."""
    namespace = uuid.uuid5(CROSSWALK_NAMESPACE, scope)

    def guid(kind: str, key) -> str:
        return str(uuid.uuid5(namespace, f"{kind}:{key}"))

    return guid


def write_atomic(out: Path, data: bytes) -> None:
    """Write `data` to `out` through a temporary file in the same folder and a rename, so a reader
    never sees half a file and a failed export leaves the old file in place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; an export is an ordinary file
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
