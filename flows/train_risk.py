"""The ``train_risk`` flow: the dropout-risk model, trained on the latest published history."""

from __future__ import annotations

from datetime import date

from prefect import flow
from pydantic import BaseModel, ConfigDict

from flows.config import load_run_config
from outputs.provenance import config_hash
from tasks.learners import cut_sessions, place_in_curriculum, select_learners
from tasks.publish import close_workspace, open_workspace
from tasks.risk import published_history, risk_training_frame, train_and_register


class TrainRiskParameters(BaseModel):
    """Which config, and which published run's history to train on (default: the latest)."""

    model_config = ConfigDict(extra="forbid")
    config_file: str
    run_date: date | None = None


@flow(name="train_risk", validate_parameters=True)
def train_risk(params: TrainRiskParameters) -> dict:
    """Rebuild the timeline from a published run's events, label snapshots, train and evaluate
    the model, and save it in the registry (promoted only when it passes its gates); return
    its version, whether it was promoted, and its report."""
    config = load_run_config(params.config_file)
    work = open_workspace(config.work_root, "risk-" + config_hash(config.model_dump(mode="json"))[:12])
    history = published_history(config.output.root, params.run_date)
    as_of = history["as_of"]
    selected = select_learners(history["events"], config.select, as_of, work)
    timeline = cut_sessions(place_in_curriculum(selected["path"], config.inputs.curriculum, work), config.sessions, work)
    frame = risk_training_frame(timeline, history["responses"], history["phase_activity"], config.inputs.curriculum,
                                config.registry_root, as_of, config.risk, config.activity, config.scoring, work)
    result = train_and_register(frame, config.risk, config.registry_root, as_of)
    close_workspace(work)
    return result


def run_train_risk(config_file: str, run_date: date | None = None) -> dict:
    """Validate the config, then run ``train_risk``; return its result.

    Raises any ``EngageError`` a bad config gives, ``NoPartition`` when no run was published,
    and ``RiskDataError`` when the history holds too few positives to train on."""
    load_run_config(config_file)
    return train_risk(TrainRiskParameters(config_file=config_file, run_date=run_date))
