"""A temporary on-disk index the readers use to find repeated ids in files too large to hold
every id in memory. It is a private SQLite database, not the project's store."""

from __future__ import annotations

import json
import sqlite3


class IdSpill:
    """(id -> row) pairs in a private temporary SQLite table that stays on disk once it grows."""

    def __init__(self) -> None:
        # "" opens a private temporary database that SQLite keeps on disk once it grows.
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY, row TEXT NOT NULL)")

    def row_of(self, value: str):
        found = self.db.execute("SELECT row FROM ids WHERE id = ?", (value,)).fetchone()
        return None if found is None else json.loads(found[0])

    def add(self, pairs) -> None:
        self.db.executemany("INSERT INTO ids VALUES (?, ?)", ((k, json.dumps(v)) for k, v in pairs))

    def close(self) -> None:
        self.db.close()
