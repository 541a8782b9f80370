"""Tasks for dropout risk: the training snapshots, training and registering a model, and the
daily run's risk columns on ``learners``."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from features.activity import ActivityRules
from features.curriculum import load_curriculum
from features.registry import Registry
from features.risk.apply import current_model, with_risk
from features.risk.features import FEATURES
from features.risk.frames import scoring_frame, training_frame
from features.risk.model import save_model, train_risk_model
from features.risk.options import RiskOptions
from features.scoring.components import ScoringOptions, metrics_table
from features.scoring.reference import reference_or_fitted
from features.statuses import RiskStatus
from outputs.manifest import read_manifest
from outputs.tables import latest_partition, write_parquet


@task(cache_policy=NO_CACHE)
def risk_training_frame(timeline_path: str, responses_path: str, phase_activity_path: str, curriculum_path: str,
                        registry_root: str, as_of: datetime, options: RiskOptions, rules: ActivityRules,
                        scoring: ScoringOptions, work_dir: str) -> str:
    """Write the labelled snapshots with their features; return the path. Phase scores use the
    registry's current scoring reference (one fitted on the published phase activity when there
    is none)."""
    reference = reference_or_fitted(Registry(registry_root), metrics_table(pq.read_table(phase_activity_path)).to_pandas(),
                                    as_of)
    frame = training_frame(pq.read_table(timeline_path), pq.read_table(responses_path), load_curriculum(curriculum_path),
                           reference, as_of, options, rules, scoring)
    return write_parquet(pa.Table.from_pandas(frame, preserve_index=False), Path(work_dir) / "risk-training.parquet")


@task(cache_policy=NO_CACHE)
def train_and_register(frame_path: str, options: RiskOptions, registry_root: str, as_of: datetime) -> dict:
    """Train, evaluate and save the model (trained on data through ``as_of``); promote it only
    when it passes its gates. Return the registry version, whether it was promoted, and the
    report.

    Raises ``RiskDataError`` when the snapshots hold too few positives to train on."""
    frame = pq.read_table(frame_path).to_pandas()
    model, report = train_risk_model(frame, list(FEATURES), options)
    window = {"first": str(frame["snapshot"].min()), "last": str(frame["snapshot"].max()), "rows": len(frame)}
    entry = save_model(Registry(registry_root), model, window, as_of.isoformat())
    if not entry.metadata["promoted"]:
        _warn(f"risk model {entry.version} saved but not promoted: evaluation AUC {report['evaluation']['auc']:.3f} "
              f"(gate {options.min_auc}), spread {report['auc_spread']:.3f} (gate {options.max_spread})")
    return {"version": entry.version, "promoted": entry.metadata["promoted"], "folder": str(entry.folder),
            "report": report}


@task(cache_policy=NO_CACHE)
def score_risk(timeline_path: str, responses_path: str, phase_scores_path: str, phase_activity_path: str,
               learners_path: str, curriculum_path: str, registry_root: str, as_of: datetime, options: RiskOptions,
               rules: ActivityRules, work_dir: str) -> dict:
    """Add the risk columns to the ``learners`` table with the registry's current model; return
    its path and what the manifest records. Without a usable model the columns are null with a
    status, a warning is logged, and the run goes on."""
    model, version, status, detail = current_model(Registry(registry_root), as_of)
    learners = pq.read_table(learners_path).to_pandas()
    frame = None
    if model is not None:
        frame = scoring_frame(pq.read_table(timeline_path), pq.read_table(responses_path),
                              load_curriculum(curriculum_path), pq.read_table(phase_scores_path).to_pandas(),
                              pq.read_table(phase_activity_path).to_pandas(), as_of, options, rules)
    table = with_risk(learners, frame if frame is not None else learners.iloc[:0], model, version, status, detail)
    counts = table["risk_status"].value_counts().to_dict()
    if counts.get(str(RiskStatus.SCORED), 0) == 0:
        _warn(f"no dropout risk this run: {table['risk_status'].iloc[0] if len(table) else 'no learners'}"
              f" ({table['risk_detail'].iloc[0] if len(table) else ''})")
    path = write_parquet(pa.Table.from_pandas(table, preserve_index=False), Path(work_dir) / "learners-risk.parquet")
    return {"path": path, "model": {"version": version, "status": str(status) if status else "used",
                                    "detail": detail, "statuses": {str(k): int(v) for k, v in counts.items()}}}


def _warn(message: str) -> None:
    try:
        get_run_logger().warning(message)
    except Exception:  # noqa: BLE001 - outside a run (task.fn in tests) there is no run logger
        logging.getLogger(__name__).warning(message)


@task(cache_policy=NO_CACHE)
def published_history(root: str, run_date: date | None) -> dict:
    """Return the folders of a published run's ``events``, ``responses`` and ``phase_activity``
    partitions (the latest run when ``run_date`` is None) and that run's as_of.

    Raises ``NoPartition`` when the run was never published."""
    events = latest_partition(root, "events", run_date)
    run_date = date.fromisoformat(events.name.split("=", 1)[1])
    manifest = read_manifest(root, run_date)
    return {"events": str(events), "responses": str(latest_partition(root, "responses", run_date)),
            "phase_activity": str(latest_partition(root, "phase_activity", run_date)),
            "as_of": datetime.fromisoformat(manifest["as_of"]), "run_date": run_date}
