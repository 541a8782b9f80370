"""Tasks from phase activity to scores, learner groups and the learners table."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from audio.heads.model import head_id
from features.groups import GroupOptions, fit_groups, learner_features, previous_state, save_state
from features.learners import learners_table
from features.registry import Registry
from features.scoring.components import ScoringOptions, metrics_table, score_version
from features.scoring.reference import reference_for_run, read_reference
from features.scoring.scores import phase_scores
from outputs.tables import write_parquet


def _window(activity: pa.Table) -> dict:
    first, last = activity["first_activity_at"], activity["last_activity_at"]
    import pyarrow.compute as pc

    return {"first": pc.min(first).as_py().isoformat() if len(first) else None,
            "last": pc.max(last).as_py().isoformat() if len(last) else None, "rows": activity.num_rows}


@task(cache_policy=NO_CACHE)
def metrics_for_scoring(phase_activity_path: str, work_dir: str) -> str:
    """Write the score's metrics per learner x course x phase; return the path."""
    return write_parquet(metrics_table(pq.read_table(phase_activity_path)), Path(work_dir) / "metrics.parquet")


@task(cache_policy=NO_CACHE)
def scoring_reference(metrics_path: str, phase_activity_path: str, registry_root: str, as_of: datetime,
                      work_dir: str) -> dict:
    """Return the reference this run scores with (path and what the manifest records): the one
    current at ``as_of``, or one fitted on this run and saved as a candidate."""
    reference, info = reference_for_run(pq.read_table(metrics_path).to_pandas(), Registry(registry_root),
                                        _window(pq.read_table(phase_activity_path)), as_of)
    path = write_parquet(pa.Table.from_pandas(reference, preserve_index=False), Path(work_dir) / "reference.parquet")
    return {**info, "path": path}


@task(cache_policy=NO_CACHE)
def score_phases(metrics_path: str, reference: dict, options: ScoringOptions, fluency_head: str | None,
                 emotion_model: str | None, work_dir: str) -> str:
    """Write the ``phase_scores`` table (its ``score_version`` names the fluency head and the
    emotion model that fed it); return the path."""
    version = score_version(head_id(fluency_head) if fluency_head else None, emotion_model)
    scores = phase_scores(pq.read_table(metrics_path).to_pandas(), read_reference(reference["path"]), options, version)
    return write_parquet(pa.Table.from_pandas(scores, preserve_index=False), Path(work_dir) / "phase_scores.parquet")


@task(cache_policy=NO_CACHE)
def group_learners(phase_activity_path: str, phase_scores_path: str, registry_root: str, run_date: date,
                   options: GroupOptions, work_dir: str) -> dict:
    """Refit the learner groups from the previous run's state, save this run's state; return
    the paths of the group per learner x course and of the ``groups`` table."""
    activity = pq.read_table(phase_activity_path)
    registry = Registry(registry_root)
    features = learner_features(activity)
    assignment, groups, state = fit_groups(features, previous_state(registry, run_date), run_date, options)
    version = save_state(registry, state, run_date, _window(activity))
    keyed = features[["user_id", "course_id"]].assign(group_id=assignment.to_numpy())
    latest = learners_table(activity.to_pandas(), pq.read_table(phase_scores_path).to_pandas(), keyed)
    means = latest.groupby("group_id")["latest_score"].mean()
    table = pd.DataFrame([{**g, "centroid": json.dumps(g["centroid"], sort_keys=True),
                           "mean_score": round(float(means[g["group_id"]]), 1) if g["group_id"] in means.index
                           and pd.notna(means[g["group_id"]]) else None} for g in groups])
    return {"groups": write_parquet(pa.Table.from_pandas(table, preserve_index=False), Path(work_dir) / "groups.parquet"),
            "assignment": write_parquet(pa.Table.from_pandas(keyed, preserve_index=False),
                                        Path(work_dir) / "group-assignment.parquet"),
            "state_version": version}


@task(cache_policy=NO_CACHE)
def learners_table_file(phase_activity_path: str, phase_scores_path: str, assignment_path: str, work_dir: str) -> str:
    """Write the ``learners`` table; return the path."""
    table = learners_table(pq.read_table(phase_activity_path).to_pandas(), pq.read_table(phase_scores_path).to_pandas(),
                           pq.read_table(assignment_path).to_pandas())
    return write_parquet(pa.Table.from_pandas(table, preserve_index=False), Path(work_dir) / "learners.parquet")
