"""Risk on the ``learners`` table: the promoted model's probability, band and drivers, or a
status saying why there is none."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from features.registry import RegistryError
from features.risk.model import RISK_KIND, RiskModel, RiskModelError, read_model
from features.statuses import RiskStatus

RISK_COLUMNS = ("risk_probability", "risk_horizon_days", "risk_band", "risk_drivers", "risk_status", "risk_detail",
                "risk_model_version")


def current_model(registry, as_of: datetime | None = None) -> tuple[RiskModel | None, str | None, RiskStatus | None,
                                                                   str | None]:
    """Return (the promoted risk model, its version, a status when it cannot be used, why); with
    ``as_of``, the model a run as of then uses (``Registry.current_at``: trained on data up to
    ``as_of``, so a backfill uses the model of its day).

    ``no_model`` when none was promoted (or none saw only data up to ``as_of``);
    ``model_unusable`` when the registry entry or its model file cannot be read, or it is not an
    engage risk model of this format."""
    try:
        entry = registry.current_at(RISK_KIND, as_of) if as_of else registry.current(RISK_KIND)
    except RegistryError as exc:
        return None, None, RiskStatus.MODEL_UNUSABLE, str(exc)
    if entry is None:
        newer = as_of is not None and registry.current(RISK_KIND) is not None
        return None, None, RiskStatus.NO_MODEL, (f"no promoted risk model trained on data up to {as_of.isoformat()}"
                                                 if newer else "no promoted risk model (run engage train-risk)")
    try:
        return read_model(entry.path("model.joblib")), entry.version, None, None
    except RiskModelError as exc:
        return None, entry.version, RiskStatus.MODEL_UNUSABLE, str(exc)


def with_risk(learners: pd.DataFrame, frame: pd.DataFrame, model: RiskModel | None, version: str | None,
              status: RiskStatus | None, detail: str | None) -> pd.DataFrame:
    """Return ``learners`` with the ``RISK_COLUMNS``.

    ``frame`` is the run's snapshot (``features.risk.frames.scoring_frame``): its learners get a
    probability, band and (high band only) drivers; the others are ``not_eligible``. Without a
    usable model (``status`` given), or when ``frame`` lacks a feature the model needs, every row
    gets nulls and the status with its detail.
    """
    out = learners.drop(columns=[c for c in RISK_COLUMNS if c in learners.columns])
    if model is not None and len(frame):
        try:
            model.check_features(frame)
        except RiskModelError as exc:
            model, status, detail = None, RiskStatus.MODEL_UNUSABLE, str(exc)
    if model is None:
        return out.assign(risk_probability=np.nan, risk_horizon_days=pd.NA, risk_band=None, risk_drivers=None,
                          risk_status=str(status), risk_detail=detail, risk_model_version=version).pipe(_typed)
    scored = frame[["user_id", "course_id"]].copy()
    scored["risk_probability"] = model.predict(frame) if len(frame) else np.array([], dtype=float)
    scored["risk_band"] = model.band(scored["risk_probability"].to_numpy())
    high = scored["risk_band"].to_numpy() == "high"
    scored["risk_drivers"] = None
    if high.any():
        scored.loc[high, "risk_drivers"] = model.drivers(frame[high])
    out = out.merge(scored, on=["user_id", "course_id"], how="left")
    eligible = out["risk_probability"].notna()
    out["risk_horizon_days"] = pd.Series(np.where(eligible, model.horizon_days, pd.NA), index=out.index)
    out["risk_status"] = np.where(eligible, str(RiskStatus.SCORED), str(RiskStatus.NOT_ELIGIBLE))
    out["risk_detail"] = np.where(eligible, None, "no learner-initiated activity in the window, or withdrawn or finished")
    out["risk_model_version"] = version
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out[[c for c in out.columns if c not in RISK_COLUMNS] + list(RISK_COLUMNS)].copy()
    out["risk_probability"] = out["risk_probability"].astype(float).round(4)
    out["risk_horizon_days"] = out["risk_horizon_days"].astype("Int64")
    for column in ("risk_band", "risk_drivers", "risk_status", "risk_detail", "risk_model_version"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
