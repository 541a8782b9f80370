"""The engagement score of every learner x course x phase (the ``phase_scores`` table).

``engagement_score`` (0-100) is the weighted mean of the components that have data; a component
without data (no analysable audio, no low-scored answer, no emotion model...) is left out and its
weight spread over the others, so missing audio lowers ``coverage`` (the share of the weight that
had data), not the score.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from features.duck import query
from features.scoring.components import COMPONENTS, ScoringOptions
from features.scoring.reference import percentiles

KEYS = ["user_id", "course_id", "phase"]


def component_scores(metrics: pd.DataFrame, reference: pd.DataFrame, options: ScoringOptions) -> pd.DataFrame:
    """Return one 0-100 column per component (null without data), aligned with ``metrics``.

    Voice components need ``options.min_voice_responses`` analysable answers in the phase."""
    pct = percentiles(metrics, reference)
    enough_voice = metrics["audio_ok_responses"].to_numpy() >= options.min_voice_responses
    out = pd.DataFrame(index=metrics.index)
    for c in COMPONENTS:
        parts = np.column_stack([pct[m.name].to_numpy(dtype=float) if m.higher_is_better
                                 else 100.0 - pct[m.name].to_numpy(dtype=float) for m in c.metrics])
        with warnings.catch_warnings():  # a row whose metrics are all missing has no component
            warnings.simplefilter("ignore", RuntimeWarning)
            value = np.nanmean(parts, axis=1)
        if c.voice:
            value = np.where(enough_voice, value, np.nan)
        out[c.name] = np.round(value, 1)
    return out


def phase_scores(metrics: pd.DataFrame, reference: pd.DataFrame, options: ScoringOptions,
                 score_version: str) -> pd.DataFrame:
    """Return the ``phase_scores`` rows for ``metrics`` (a ``metrics_table`` as a DataFrame).

    Columns: keys, phase_index, cohort, level, ``engagement_score``, one column per component,
    ``coverage``, ``cohort_percentile`` (within course x phase x cohort: the score's mean rank
    over the group's size), ``change_from_previous_phase`` (this phase's score minus the
    learner's score in the course's previous phase; null without one), ``band`` and
    ``score_version``; sorted by learner, course and phase.
    """
    components = component_scores(metrics, reference, options)
    weights = np.array([options.weight(c.name) for c in COMPONENTS])
    values = components[[c.name for c in COMPONENTS]].to_numpy(dtype=float)
    has = ~np.isnan(values) & (weights > 0)
    used = (has * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(used > 0, np.nansum(np.where(has, values * weights, 0.0), axis=1) / used, np.nan)
    rows = metrics[KEYS + ["phase_index", "cohort", "level"]].copy()
    rows["engagement_score"] = np.round(score, 1)
    rows = pd.concat([rows, components], axis=1)
    rows["coverage"] = np.round(used / weights.sum(), 3)
    # only the keys and the score go through duckdb: it returns each row's place in the output
    # order with the two columns that compare rows
    cohort = "PARTITION BY course_id, phase, coalesce(cohort, '')"
    ranked = query(
        f"""
        SELECT s.i,
               CASE WHEN s.engagement_score IS NOT NULL THEN
                 -- mid-rank: the mean of the first and the last rank of the score's ties
                 round(100.0 * (rank() OVER w + round(cume_dist() OVER w * count(*) OVER g)) / 2.0
                       / count(s.engagement_score) OVER g, 1) END AS cohort_percentile,
               round(s.engagement_score - p.previous_score, 1) AS change_from_previous_phase
        FROM (SELECT *, row_number() OVER () - 1 AS i FROM rows) s
        LEFT JOIN (SELECT user_id, course_id, phase_index + 1 AS phase_index, engagement_score AS previous_score
                   FROM rows) p
               USING (user_id, course_id, phase_index)
        WINDOW w AS ({cohort} ORDER BY s.engagement_score), g AS ({cohort})
        ORDER BY user_id, course_id, phase_index
        """, rows=pa.Table.from_pandas(rows[["user_id", "course_id", "phase", "phase_index", "cohort",
                                             "engagement_score"]], preserve_index=False))
    out = rows.iloc[ranked["i"].to_numpy()].reset_index(drop=True)
    out["cohort_percentile"] = ranked["cohort_percentile"].to_numpy(zero_copy_only=False)
    out["change_from_previous_phase"] = ranked["change_from_previous_phase"].to_numpy(zero_copy_only=False)
    low, high = options.bands
    value = out["engagement_score"].to_numpy()
    band = np.select([value < low, value < high, value >= high], ["low", "medium", "high"], "")
    out["band"] = pd.Series(band, dtype="str").where(band != "")
    out["score_version"] = score_version
    return out
