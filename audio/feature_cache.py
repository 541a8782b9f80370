"""Results computed from audio, cached by content: (content hash, version) -> JSON value.

Versions name what computed the value (tone feature version and limits, descriptor version,
emotion model id and revision), so a new version recomputes and an old one is never reused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Callable


class FeatureCache:
    """SQLite under ``root``; safe across threads, and across processes sharing the folder (a
    writer waits for another's transaction)."""

    def __init__(self, root: str | Path):
        Path(root).mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(Path(root) / "features.sqlite", check_same_thread=False, timeout=120)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT, version TEXT, value TEXT, "
                         "PRIMARY KEY (key, version))")
        self._db.commit()

    def get_many(self, keys: list[str], version: str) -> dict[str, dict]:
        """Return ``key -> result`` for the keys cached under ``version``."""
        found: dict[str, dict] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(
                        f"SELECT key, value FROM results WHERE version = ? AND key IN ({marks})",
                        [version, *chunk]):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: dict[str, dict], version: str) -> None:
        """Store ``key -> result`` under ``version``."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 [(k, version, json.dumps(v)) for k, v in items.items()])
            self._db.commit()

    def compute_missing(self, keys: list[str], version: str,
                        compute: Callable[[list[str]], list[dict]]) -> tuple[dict[str, dict], int]:
        """Return (``key -> result`` for every key, how many were computed now).

        ``compute`` gets the distinct keys the cache lacks (sorted) and returns their results
        in that order; they are stored before returning.
        """
        cached = self.get_many(sorted(set(keys)), version)
        todo = sorted(set(keys) - set(cached))
        fresh = dict(zip(todo, compute(todo))) if todo else {}
        self.put_many(fresh, version)
        return {**cached, **fresh}, len(todo)

    def remove(self, keys: set[str] | list[str]) -> int:
        """Delete every result computed from these contents (all versions), leaving no trace in
        the file (VACUUM); return how many results went."""
        keys = sorted(keys)
        with self._lock:
            gone = 0
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                gone += self._db.execute(f"DELETE FROM results WHERE key IN ({','.join('?' * len(chunk))})",
                                         chunk).rowcount
            self._db.commit()
            self._db.execute("VACUUM")
        return gone
