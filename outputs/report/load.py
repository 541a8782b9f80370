"""Read what a report needs from one run date's published tables and recorded models."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features.insights.model import RunTables
from features.insights.voice import MEASURES
from features.registry import Registry, RegistryError
from features.risk.model import RISK_KIND
from features.scoring.components import COMPONENT_NAMES
from outputs.tables import ATTRIBUTES_TABLE, NoPartition, latest_partition

COLUMNS = {
    "phase_scores": ["user_id", "course_id", "phase", "phase_index", "cohort", "engagement_score", "band", *COMPONENT_NAMES,
                     "coverage"],
    "learners": ["user_id", "course_id", "current_phase", "current_phase_index", "latest_score", "group_id",
                 "days_since_last_activity", "risk_probability", "risk_horizon_days", "risk_band", "risk_drivers",
                 "risk_status"],
    "groups": ["group_id", "name", "profile", "size", "mean_score"],
    "nudges": ["user_id", "course_id", "type", "channel"],
    "nudge_assignments": ["user_id", "course_id", "type", "arm"],
}


def _read(root, table: str, run_date: date, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a partition's ``columns`` (all when None); a column the file lacks (an empty table's
    file may) comes back empty."""
    folder = latest_partition(root, table, run_date)
    names = pq.read_schema(next(folder.glob("*.parquet"))).names
    frame = pq.read_table(folder, columns=[c for c in columns if c in names] if columns else None).to_pandas()
    return frame.reindex(columns=columns) if columns else frame


def _optional(root, table: str, run_date: date, columns: list[str] | None = None) -> pd.DataFrame | None:
    try:
        return _read(root, table, run_date, columns)
    except NoPartition:
        return None


def run_facts(manifest: dict) -> dict:
    """Return what a report reads from a run's manifest (run date, as_of, counts, models),
    normalised through JSON so a run and a rebuild from the written manifest see the same."""
    keep = {k: manifest[k] for k in ("run_date", "as_of", "counts", "models")}
    return json.loads(json.dumps(keep, default=str, sort_keys=True))


def load_run_tables(root: str | Path, registry_root: str | Path, facts: dict) -> RunTables:
    """Return the ``RunTables`` of the run described by ``facts`` (see ``run_facts``).

    Raises ``NoPartition`` when a table every run publishes is missing."""
    run_date = date.fromisoformat(facts["run_date"])
    voice = [c for c, spec in MEASURES.items() if spec[3] == "phase_activity"]
    risk_version = (facts["models"].get("risk_model") or {}).get("version")
    risk_model = None
    if risk_version:
        try:
            risk_model = Registry(registry_root).load(RISK_KIND, risk_version).metadata
        except RegistryError:
            risk_model = None
    return RunTables(
        run_date=facts["run_date"], as_of=facts["as_of"], counts=facts["counts"], models=facts["models"],
        phase_scores=_read(root, "phase_scores", run_date, COLUMNS["phase_scores"]),
        learners=_read(root, "learners", run_date, COLUMNS["learners"]),
        groups=_read(root, "groups", run_date, COLUMNS["groups"]),
        phase_activity=_read(root, "phase_activity", run_date, ["course_id", "phase_index", *voice]),
        audio_status=facts["counts"].get("audio", {}).get("by_status", {}),
        emotion_status=facts["counts"].get("audio", {}).get("emotion_by_status", {}),
        alignment_status=facts["counts"].get("audio", {}).get("alignment_by_status", {}),
        nudges=_optional(root, "nudges", run_date, COLUMNS["nudges"]),
        nudge_assignments=_optional(root, "nudge_assignments", run_date, COLUMNS["nudge_assignments"]),
        nudge_effects=_optional(root, "nudge_effects", run_date),
        attributes=_optional(root, ATTRIBUTES_TABLE, run_date),
        risk_model=risk_model)
