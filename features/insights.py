"""Findings computed from the run's tables, each a statement with its number and scope (the
``insights`` table, which the report and the Prefect artifacts show)."""

from __future__ import annotations

import pandas as pd

from features.scoring.components import COMPONENT_NAMES

QUIET_DAYS = 14  # a learner with no activity for this long before as_of has gone quiet


def insights(phase_scores: pd.DataFrame, learners: pd.DataFrame, groups: list[dict], course_phases: dict[str, list[str]]) -> pd.DataFrame:
    """Return the findings: per course, the phase where the median engagement score falls most;
    the component that fell most in their last phase among learners who went quiet; the group
    with the lowest mean score. Columns: insight_id, scope, statement, number, unit."""
    rows = []
    for course, order in sorted(course_phases.items()):
        medians = phase_scores[phase_scores["course_id"] == course].groupby("phase")["engagement_score"].median()
        steps = [(a, b, medians[b] - medians[a]) for a, b in zip(order, order[1:]) if a in medians and b in medians]
        if steps:
            a, b, drop = min(steps, key=lambda s: s[2])
            rows.append({"insight_id": f"largest_drop:{course}", "scope": f"course {course}",
                         "statement": f"In {course}, engagement falls most from {a} to {b}: the median score goes from "
                                      f"{medians[a]:.0f} to {medians[b]:.0f} ({drop:+.0f} points).",
                         "number": round(float(drop), 1), "unit": "points"})
    quiet = learners[learners["days_since_last_activity"] >= QUIET_DAYS][["user_id", "course_id"]]
    last_two = (phase_scores.merge(quiet, on=["user_id", "course_id"]).sort_values("phase_index")
                .groupby(["user_id", "course_id"]).tail(2))
    change = last_two.groupby(["user_id", "course_id"])[list(COMPONENT_NAMES)].agg(lambda c: c.iloc[-1] - c.iloc[0]
                                                                                    if len(c) == 2 else float("nan"))
    means = change.mean().dropna()
    if len(means):
        component = means.idxmin()
        rows.append({"insight_id": "quiet_learners_first_drop", "scope": f"{len(quiet)} learners quiet for {QUIET_DAYS}+ days",
                     "statement": f"Among the {len(quiet)} learners who went quiet, {component.replace('_', ' ')} fell most "
                                  f"from their previous phase to their last ({means[component]:+.0f} points on average).",
                     "number": round(float(means[component]), 1), "unit": "points"})
    scored = [g for g in groups if g.get("mean_score") is not None and g["size"]]
    if scored:
        low = min(scored, key=lambda g: g["mean_score"])
        rows.append({"insight_id": "lowest_group", "scope": f"group {low['group_id']}",
                     "statement": f"The group \"{low['name']}\" ({low['size']} learners) has the lowest mean engagement "
                                  f"score: {low['mean_score']:.0f}.",
                     "number": round(float(low["mean_score"]), 1), "unit": "points"})
    return pd.DataFrame(rows, columns=["insight_id", "scope", "statement", "number", "unit"])
