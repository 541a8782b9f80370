"""Erasure: remove one learner from every published table partition and export.

A row goes when any of its text columns holds the learner's id as a whole token (the value
itself, or inside text such as a quarantined record's raw line, even a broken one; ``u1`` does
not match ``u10``). Partitions that change are rewritten and
swapped in whole (``publish_partition``); each run's manifest records how many rows were removed
from which table, never whose.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from outputs.manifest import ManifestMissing, read_manifest, write_manifest
from outputs.tables import publish_partition, write_parquet

SKIP = {"manifest", "report"}  # rewritten from the tables afterwards, not filtered


@dataclass
class Purged:
    """What a purge removed: run date -> table -> rows, and the content keys of the learner's
    audio (to purge cached results computed from it)."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    content_keys: set[str] = field(default_factory=set)


def _mentions(table: pa.Table, user_id: str) -> pa.Array:
    """Return a boolean mask of the rows that name ``user_id``."""
    mask = pa.array([False] * table.num_rows, pa.bool_())
    token = f"(^|[^A-Za-z0-9_.-]){re.escape(user_id)}($|[^A-Za-z0-9_.-])"
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            mask = pc.or_(mask, pc.fill_null(pc.match_substring_regex(column, token), False))
    return mask


def _partitions(root: Path):
    for table_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        if table_dir.name not in SKIP:
            yield from ((table_dir.name, p) for p in sorted(table_dir.glob("run_date=*")))


def purge_tables(root: str | Path, user_id: str) -> Purged:
    """Remove ``user_id``'s rows from every partition (Parquet) and line (JSONL export) under
    ``root``, and from quarantines kept of failed runs; return what was removed."""
    root = Path(root)
    purged = Purged()
    for table, folder in _partitions(root):
        run_date = folder.name.split("=", 1)[1]
        with tempfile.TemporaryDirectory(dir=root, prefix=".purge-") as work:
            files, names, gone = [], [], 0
            for path in sorted(folder.iterdir()):
                if path.suffix == ".parquet":
                    data = pq.read_table(path)
                    hit = _mentions(data, user_id)
                    count = pc.sum(hit).as_py() or 0
                    if count and "content_key" in data.column_names:
                        purged.content_keys |= set(data.filter(hit)["content_key"].drop_null().to_pylist())
                    kept = write_parquet(data.filter(pc.invert(hit)), Path(work) / path.name)
                elif path.suffix == ".jsonl":
                    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
                    keep = [line for line in lines if json.loads(line).get("user_id") != user_id]
                    count = len(lines) - len(keep)
                    kept = Path(work) / path.name
                    kept.write_text("".join(keep), encoding="utf-8")
                else:
                    continue
                files.append(kept)
                names.append(path.name)
                gone += count
            if gone:
                publish_partition(root, table, date.fromisoformat(run_date), files, names=names)
                purged.rows.setdefault(run_date, {})[table] = gone
    for kept in sorted((root / "_failed").glob("*/quarantine.parquet")):
        data = pq.read_table(kept)
        hit = _mentions(data, user_id)
        if pc.sum(hit).as_py():
            write_parquet(data.filter(pc.invert(hit)), kept.with_suffix(".tmp"))
            kept.with_suffix(".tmp").replace(kept)
    return purged


def record_purge(root: str | Path, removed: dict[str, dict[str, int]]) -> None:
    """Add to each affected run's manifest when rows were purged and how many per table (no
    learner id), so its counts still reconcile with what the tables hold."""
    at = datetime.now(timezone.utc).isoformat()
    for run_date, tables in removed.items():
        day = date.fromisoformat(run_date)
        try:
            manifest = read_manifest(root, day)
        except ManifestMissing:  # a partition without a manifest: nothing to annotate
            continue
        manifest.setdefault("purges", []).append({"at": at, "rows_removed": tables})
        write_manifest(root, day, {k: v for k, v in manifest.items() if k != "manifest_path"})
