"""Tasks from cleaned events to sessions, responses and learner x phase activity."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from features.activity import build_responses, phase_activity
from features.curriculum import load_curriculum
from features.placement import place_events
from features.select import Selection, select_events
from features.sessions import assign_sessions, build_sessions
from flows.config import SelectConfig
from outputs.tables import write_parquet


@task(cache_policy=NO_CACHE)
def latest_event_time(events_path: str) -> datetime:
    """Return the latest event time (the default as_of); raises ValueError with no events."""
    ts = pq.read_table(events_path, columns=["ts"])["ts"]
    if len(ts) == 0:
        raise ValueError(f"{events_path}: no events survived ingest, so there is no as_of")
    import pyarrow.compute as pc

    return pc.max(ts).as_py()


@task(cache_policy=NO_CACHE)
def select_learners(events_path: str, cfg: SelectConfig, as_of: datetime, work_dir: str) -> dict:
    """Keep the configured learners and window; return the path and filtered-out counts."""
    selection = Selection(tuple(cfg.levels), tuple(cfg.cohorts), cfg.start, cfg.end)
    selected, filtered = select_events(pq.read_table(events_path), selection, as_of)
    return {"path": write_parquet(selected, Path(work_dir) / "selected.parquet"),
            "selected": selected.num_rows, "filtered_out": sum(filtered.values()),
            "filtered_by_reason": filtered}


@task(cache_policy=NO_CACHE)
def place_and_sessionize(selected_path: str, curriculum_path: str | None, gap_minutes: float,
                         work_dir: str) -> str:
    """Place events in course, level, milestone and phase, then cut sessions; return the path."""
    placed = place_events(pq.read_table(selected_path), load_curriculum(curriculum_path))
    return write_parquet(assign_sessions(placed, gap_minutes), Path(work_dir) / "timeline.parquet")


@task(cache_policy=NO_CACHE)
def sessions_table(timeline_path: str, work_dir: str) -> str:
    """Write one row per learner session; return the path."""
    return write_parquet(build_sessions(pq.read_table(timeline_path)), Path(work_dir) / "sessions.parquet")


@task(cache_policy=NO_CACHE)
def responses_table(timeline_path: str, curriculum_path: str | None, work_dir: str) -> str:
    """Write one row per spoken response; return the path."""
    languages = load_curriculum(curriculum_path).languages()
    return write_parquet(build_responses(pq.read_table(timeline_path), languages),
                         Path(work_dir) / "responses.parquet")


@task(cache_policy=NO_CACHE)
def phase_activity_table(timeline_path: str, sessions_path: str, responses_path: str,
                         as_of: datetime, work_dir: str) -> str:
    """Write learner x phase activity features; return the path."""
    table = phase_activity(pq.read_table(timeline_path), pq.read_table(sessions_path),
                           pq.read_table(responses_path), as_of)
    return write_parquet(table, Path(work_dir) / "phase_activity.parquet")
