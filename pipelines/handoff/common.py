"""What every hand-off file needs: text that XML can carry, stable GUIDs, and an atomic write."""

from __future__ import annotations

import uuid

from pipelines.exports import write_atomic, xml_clean

__all__ = ["guid_maker", "write_atomic", "xml_text"]

# Fixed, so that the same key gives the same GUID in every export.
CROSSWALK_NAMESPACE = uuid.UUID("6f1c8b52-4d0e-5b7a-9a63-2f0c1d7e8a41")


def xml_text(value) -> str:
    """`value` as text an XML document can hold: None is empty, illegal characters are dropped and
    line ends are LF (a QDA tool counts positions in the text as it reads it, and a CR it drops
    would shift every position after it)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return xml_clean(text)


def guid_maker(scope: str):
    """A function of (kind, key) giving a GUID that depends on `scope` (the corpus a run was made
    from) and on nothing else, so exports of the same run carry the same GUIDs."""
    namespace = uuid.uuid5(CROSSWALK_NAMESPACE, scope)

    def guid(kind: str, key) -> str:
        return str(uuid.uuid5(namespace, f"{kind}:{key}"))

    return guid
