"""Where tables live and how a run's partition is published.

Layout: ``<root>/<table>/run_date=YYYY-MM-DD/part-0.parquet``. A run publishes each table's
partition by writing it aside and swapping it in, so a rerun for the same run date replaces the
partition whole and readers never see half of one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import EngageError

TABLES = ("events", "quarantine", "sessions", "responses", "phase_activity", "phase_scores", "learners", "groups",
          "insights")
NUDGE_TABLES = ("nudges", "nudge_assignments", "nudge_state", "nudge_effects")  # when nudges.rules is set
ATTRIBUTES_TABLE = "learner_attributes"  # when inputs.attributes is set


def partition_dir(root: str | Path, table: str, run_date: date) -> Path:
    """Return the folder of ``table``'s partition for ``run_date``."""
    return Path(root) / table / f"run_date={run_date.isoformat()}"


def write_parquet(table: pa.Table, path: str | Path) -> str:
    """Write ``table`` to ``path`` (zstd) and return the path as a string."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return str(path)


def publish_partition(root: str | Path, table: str, run_date: date, files: list[str | Path],
                      names: list[str] | None = None) -> Path:
    """Move ``files`` into ``table``'s partition for ``run_date`` (as ``part-<i>.parquet``, or
    ``names``), replacing it atomically.

    The files land in a hidden sibling folder first, which is then renamed into place; an old
    partition is renamed aside first and deleted after. Hidden folders a killed run left for
    this partition are deleted first. Returns the partition folder.
    """
    final = partition_dir(root, table, run_date)
    final.parent.mkdir(parents=True, exist_ok=True)
    for leftover in final.parent.glob(f".{final.name}.*-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    token = uuid.uuid4().hex[:8]
    staging = final.parent / f".{final.name}.new-{token}"
    staging.mkdir()
    for i, f in enumerate(files):
        shutil.move(str(f), staging / (names[i] if names else f"part-{i}.parquet"))
    old = final.parent / f".{final.name}.old-{token}"
    if final.exists():
        os.rename(final, old)
    os.rename(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


class NoPartition(EngageError):
    """A table partition that was never published."""


def run_dates(root: str | Path, table: str) -> list[date]:
    """Return the run dates ``table`` has published partitions for, oldest first."""
    folder = Path(root) / table
    return sorted(date.fromisoformat(p.name.split("=", 1)[1]) for p in folder.glob("run_date=*")) \
        if folder.is_dir() else []


def latest_partition(root: str | Path, table: str, run_date: date | None = None) -> Path:
    """Return the folder of one published partition of ``table`` (the latest run date when None).

    Raises:
        NoPartition: when there is no such partition.
    """
    if run_date is None:
        dates = run_dates(root, table)
        if not dates:
            raise NoPartition(f"{Path(root) / table}: no published partition (run the pipeline first)")
        run_date = dates[-1]
    folder = partition_dir(root, table, run_date)
    if not folder.exists():
        raise NoPartition(f"no partition {folder}")
    return folder


def read_partition(root: str | Path, table: str, run_date: date | None = None, filters=None) -> pa.Table:
    """Read one published partition of ``table`` (the latest run date when None), only the
    rows matching ``filters`` (pyarrow's DNF filters) when given.

    Raises:
        NoPartition: when there is no such partition.
    """
    return pq.read_table(latest_partition(root, table, run_date), filters=filters)


def partitions_before(root: str | Path, table: str, run_date: date) -> list[Path]:
    """Return the folders of ``table``'s partitions with run dates strictly before ``run_date``,
    oldest first (what a rerun or backfill of ``run_date`` may read)."""
    return [partition_dir(root, table, d) for d in run_dates(root, table) if d < run_date]


def previous_partition(root: str | Path, table: str, run_date: date) -> Path | None:
    """Return the folder of ``table``'s latest partition strictly before ``run_date``, or None."""
    before = partitions_before(root, table, run_date)
    return before[-1] if before else None
