"""Tasks from cleaned events to sessions, responses and learner x phase activity, and the
learner attributes that break results down."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from audio.storage import SourceUnreadable, fetch_to_local, storage_client
from features.activity import ActivityRules, phase_activity
from features.attributes import AttributeOptions, AttributesError, read_attributes
from features.responses import build_responses, latest_time
from features.curriculum import load_curriculum
from features.placement import place_events
from features.select import Selection, select_events
from features.sessions import SessionRules, assign_sessions, build_sessions
from outputs.tables import write_parquet


@task(cache_policy=NO_CACHE)
def run_clock(events_path: str, as_of: datetime | None, run_date: date | None) -> tuple[datetime, date]:
    """Return the run's (as_of, run_date): as given, else the latest event time and its UTC date."""
    as_of = as_of or latest_time(pq.read_table(events_path, columns=["ts"]))
    return as_of, run_date or as_of.date()


@task(cache_policy=NO_CACHE)
def select_learners(events_path: str, selection: Selection, as_of: datetime, work_dir: str) -> dict:
    """Keep the selected learners and window; return the path and filtered-out counts."""
    selected, filtered = select_events(pq.read_table(events_path), selection, as_of)
    return {"path": write_parquet(selected, Path(work_dir) / "selected.parquet"),
            "selected": selected.num_rows, "filtered_out": sum(filtered.values()),
            "filtered_by_reason": filtered}


@task(cache_policy=NO_CACHE)
def place_in_curriculum(selected_path: str, curriculum_path: str, work_dir: str) -> str:
    """Place events in course, level, milestone and phase; return the path."""
    placed = place_events(pq.read_table(selected_path), load_curriculum(curriculum_path))
    return write_parquet(placed, Path(work_dir) / "placed.parquet")


@task(cache_policy=NO_CACHE)
def cut_sessions(placed_path: str, rules: SessionRules, work_dir: str) -> str:
    """Give every event its session and activity phase; return the timeline's path."""
    return write_parquet(assign_sessions(pq.read_table(placed_path), rules), Path(work_dir) / "timeline.parquet")


@task(cache_policy=NO_CACHE)
def sessions_table(timeline_path: str, work_dir: str) -> str:
    """Write one row per learner session; return the path."""
    return write_parquet(build_sessions(pq.read_table(timeline_path)), Path(work_dir) / "sessions.parquet")


@task(cache_policy=NO_CACHE)
def responses_table(timeline_path: str, curriculum_path: str, work_dir: str) -> str:
    """Write one row per spoken response; return the path."""
    languages = load_curriculum(curriculum_path).languages()
    return write_parquet(build_responses(pq.read_table(timeline_path), languages),
                         Path(work_dir) / "responses.parquet")


@task(cache_policy=NO_CACHE)
def phase_activity_table(timeline_path: str, sessions_path: str, responses_path: str, curriculum_path: str,
                         as_of: datetime, rules: ActivityRules, work_dir: str) -> str:
    """Write learner x phase activity features; return the path."""
    table = phase_activity(pq.read_table(timeline_path), pq.read_table(sessions_path),
                           pq.read_table(responses_path), as_of, rules, load_curriculum(curriculum_path).lessons_per_phase())
    return write_parquet(table, Path(work_dir) / "phase_activity.parquet")


@task(cache_policy=NO_CACHE)
def learner_attributes(uri: str, options: AttributeOptions, project: str | None, work_dir: str) -> dict:
    """Fetch (gs:// or local) and read the learner attributes file; return the table's path and
    its counts (rows read, kept, rejected by reason with their first line numbers).

    Raises ``AttributesError`` naming the file (and field) when it cannot be used."""
    client = storage_client(project) if uri.startswith("gs://") else None
    try:
        fetched = fetch_to_local(uri, Path(work_dir) / "downloads" / f"attributes-{Path(uri).name}", client)
    except SourceUnreadable as exc:
        raise AttributesError(f"learner attributes: {exc}") from None
    read = read_attributes(fetched["local_path"], options)
    path = write_parquet(pa.Table.from_pandas(read.table, preserve_index=False),
                         Path(work_dir) / "learner_attributes.parquet")
    return {"path": path, "counts": {"rows": read.rows, "kept": len(read.table),
                                     "rejected_by_reason": read.rejected_by_reason,
                                     "rejected_lines": read.rejected_lines}}
