"""Fairness breakdowns: engagement score, dropout risk and nudge rates by learner attribute,
with the largest gap between groups of each attribute flagged when it passes a threshold.

Attributes only break results down here; no model ever sees them. Groups smaller than
``min_group_size`` are shown as too small and left out of the gaps (a gap between a handful of
learners is noise, and small groups can identify people).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.stats import difference_ci

# metric -> (what it is, unit of its gap)
METRICS = {"mean_score": ("latest engagement score", "points"),
           "high_risk_share": ("share at high dropout risk", "share"),
           "nudged_share": ("share picked for a nudge", "share")}
GAP_COLUMNS = ("attribute", "metric", "high_value", "low_value", "gap", "ci_low", "ci_high", "threshold", "flagged")


@dataclass(frozen=True)
class FairnessOptions:
    """Which attributes to break down by, and when a gap is flagged."""

    breakdowns: tuple[str, ...] = ("age_band", "gender")
    min_group_size: int = 20
    max_score_gap: float = 10.0  # points of the engagement score
    max_rate_gap: float = 0.10  # difference of two shares (high risk, nudged)

    def threshold(self, metric: str) -> float:
        """The largest gap of ``metric`` that is not flagged."""
        return self.max_score_gap if METRICS[metric][1] == "points" else self.max_rate_gap


def learner_outcomes(learners: pd.DataFrame, assignments: pd.DataFrame | None, attributes: pd.DataFrame,
                     breakdowns: tuple[str, ...]) -> pd.DataFrame:
    """Return one row per learner x course: the attributes in ``breakdowns`` (``unknown`` where
    the learner has none), ``latest_score``, ``high_risk`` (1/0, NaN when not scored) and
    ``nudged`` (1 when the rules picked the learner for a nudge, treated or held out)."""
    frame = learners[["user_id", "course_id", "latest_score", "risk_band"]].copy()
    frame["high_risk"] = np.where(frame["risk_band"].isna(), np.nan, (frame["risk_band"] == "high").astype(float))
    frame["nudged"] = 0.0
    if assignments is not None and len(assignments):
        picked = pd.MultiIndex.from_frame(assignments[["user_id", "course_id"]].drop_duplicates())
        frame["nudged"] = pd.MultiIndex.from_frame(frame[["user_id", "course_id"]]).isin(picked).astype(float)
    present = [b for b in breakdowns if b in attributes.columns]
    frame = frame.merge(attributes[["user_id", *present]], on="user_id", how="left")
    for b in breakdowns:
        frame[b] = frame[b].fillna("unknown").astype(str) if b in frame.columns else "unknown"
    return frame


def breakdown(outcomes: pd.DataFrame, options: FairnessOptions) -> pd.DataFrame:
    """Return per attribute x value: learners, mean score, high-risk share, nudged share, and
    whether the group is large enough to compare."""
    rows = []
    for attribute in options.breakdowns:
        for value, part in outcomes.groupby(attribute, sort=True):
            rows.append({"attribute": attribute, "value": value, "learners": len(part),
                         "mean_score": round(float(part["latest_score"].mean()), 1) if part["latest_score"].notna().any()
                         else None,
                         "high_risk_share": round(float(part["high_risk"].mean()), 4) if part["high_risk"].notna().any()
                         else None,
                         "nudged_share": round(float(part["nudged"].mean()), 4),
                         "compared": len(part) >= options.min_group_size and value != "unknown"})
    return pd.DataFrame(rows, columns=["attribute", "value", "learners", *METRICS, "compared"]).astype({"compared": bool})


def gaps(outcomes: pd.DataFrame, options: FairnessOptions) -> pd.DataFrame:
    """Return per attribute x metric the gap between the highest and the lowest compared group
    (groups with ``min_group_size`` learners with a value of that metric), its 95% interval, the
    threshold, and ``flagged`` when the gap passes it."""
    source = {"mean_score": "latest_score", "high_risk_share": "high_risk", "nudged_share": "nudged"}
    rows = []
    for attribute in options.breakdowns:
        sizes = outcomes[attribute].value_counts()
        compared = [v for v, n in sizes.items() if n >= options.min_group_size and v != "unknown"]
        for metric, column in source.items():
            values = {v: outcomes.loc[outcomes[attribute] == v, column].dropna().to_numpy() for v in compared}
            values = {v: x for v, x in values.items() if len(x) >= options.min_group_size}  # e.g. few scored
            if len(values) < 2:
                continue
            means = {v: float(x.mean()) for v, x in values.items()}
            high, low = max(means, key=means.get), min(means, key=means.get)
            gap, ci_low, ci_high = difference_ci(values[high], values[low])
            digits = 1 if METRICS[metric][1] == "points" else 4
            rows.append({"attribute": attribute, "metric": metric, "high_value": high, "low_value": low,
                         "gap": round(gap, digits), "ci_low": round(ci_low, digits), "ci_high": round(ci_high, digits),
                         "threshold": options.threshold(metric), "flagged": bool(gap > options.threshold(metric))})
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS)).astype({"flagged": bool})
