"""The ``risk`` config section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le


@dataclass(frozen=True)
class RiskOptions:
    """How dropout risk is defined, trained, gated and banded.

    A snapshot on day d covers each learner active (learner-initiated events) in the ``window_days``
    before d who has not withdrawn or finished; its label is a withdrawal event
    (``withdrawal_event_types``) within ``horizon_days`` after d when the platform sends them,
    else no activity in those days. Training uses snapshots every ``snapshot_every_days`` and
    slices them in time: training, then calibration, then evaluation (``calibration_share`` and
    ``evaluation_share`` of the snapshot days), with ``horizon_days`` between slices so no label
    window reaches into the next slice. A model is promoted only when its evaluation AUC is at
    least ``min_auc`` and the AUC's spread (standard deviation) over ``refits`` bootstrap refits
    is at most ``max_spread``.
    """

    horizon_days: Annotated[int, Ge(1)] = 14
    window_days: Annotated[int, Ge(1)] = 28
    snapshot_every_days: Annotated[int, Ge(1)] = 7
    withdrawal_event_types: tuple[str, ...] = ("unregistration",)
    calibration_share: Annotated[float, Gt(0), Le(0.5)] = 0.2
    evaluation_share: Annotated[float, Gt(0), Le(0.5)] = 0.2
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    min_positives: Annotated[int, Ge(1)] = 30
    min_auc: Annotated[float, Ge(0), Le(1)] = 0.70
    max_spread: Annotated[float, Ge(0)] = 0.05
    refits: Annotated[int, Ge(1)] = 10
    max_depth: Annotated[int, Ge(1)] = 4
    max_iter: Annotated[int, Ge(10)] = 100
    learning_rate: Annotated[float, Gt(0), Le(1)] = 0.1
    seed: int = 0
