"""The engagement score's components and the options that weigh them.

Each component is the mean of one or more metrics of a learner x phase, each scaled 0-100 against
the scoring reference (its percentile among the reference's learner x phase rows of the same
course and phase; 100 minus that for metrics where less is better). Every metric is a column of
``metrics_table`` (below), computed from ``phase_activity``. docs/scores.md defines each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Mapping

import pyarrow as pa
from annotated_types import Ge

from features.duck import query

# Bump when a component's definition changes (the models it uses are added to score_version).
SCORE_DEFINITION = "score-1"


@dataclass(frozen=True)
class Metric:
    """A column of the metrics table and whether more of it is more engaged."""

    name: str
    higher_is_better: bool = True


@dataclass(frozen=True)
class Component:
    """A named part of the score: which metrics make it, and whether it needs voice."""

    name: str
    voice: bool
    metrics: tuple[Metric, ...]
    meaning: str


COMPONENTS = (
    Component("regularity", False, (Metric("active_day_share"), Metric("longest_streak_days"),
                                    Metric("longest_gap_days", False)),
              "active days over the phase's span, longest run of active days, longest gap"),
    Component("time_on_task", False, (Metric("minutes_per_active_day"),), "session minutes per active day"),
    Component("completion", False, (Metric("completion_rate"), Metric("curriculum_share")),
              "lessons completed / lessons started; share of the phase's lessons completed"),
    Component("persistence", False, (Metric("retry_after_low_share"), Metric("returns_after_gap")),
              "share of low-scored answers tried again; returns after a gap"),
    Component("pace", False, (Metric("lessons_per_week"),), "lessons completed per week of the phase's span"),
    Component("responsiveness", False, (Metric("median_latency_s", False),), "median seconds from prompt to answer"),
    Component("answer_effort", True, (Metric("answer_effort_ratio"),), "answer length against the expected length"),
    Component("fluency", True, (Metric("fluency_score_mean"),), "the fluency head's mean score"),
    Component("vocal_energy", True, (Metric("loudness_mean_db_rel_mean"),),
              "loudness against the learner's own usual loudness"),
    Component("pitch_variation", True, (Metric("f0_range_st_rel_mean"),),
              "pitch range against the learner's own usual range"),
    Component("hesitation", True, (Metric("pause_ratio_rel_mean", False),),
              "pausing against the learner's own usual pausing (100: pauses least)"),
    Component("emotion_balance", True, (Metric("emotion_balance_mean"),),
              "positive minus negative emotion (only when an emotion model ran)"),
)
COMPONENT_NAMES = tuple(c.name for c in COMPONENTS)
METRICS = tuple(m.name for c in COMPONENTS for m in c.metrics)

# Chosen on simulator seed 7 (benchmarks/scoring_validity.py; docs/scores.md says why).
DEFAULT_WEIGHTS = {"regularity": 0.0, "time_on_task": 0.0, "completion": 0.05, "persistence": 0.0,
                   "pace": 0.3, "responsiveness": 0.3, "answer_effort": 0.3, "fluency": 0.0,
                   "vocal_energy": 0.0, "pitch_variation": 0.0, "hesitation": 0.0, "emotion_balance": 0.0}


@dataclass(frozen=True)
class ScoringOptions:
    """The ``scoring`` config section: component weights (missing components' weight is spread
    over the others), the band cut-offs (low below the first, high from the second), and how
    many analysable answers a phase needs before its voice components count.

    Raises:
        ValueError: an unknown component, a negative weight, no positive weight, or cut-offs out
            of order.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bands: tuple[float, float] = (44.0, 58.0)  # chosen on seed 7 too: terciles of its scores
    min_voice_responses: Annotated[int, Ge(1)] = 1

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(COMPONENT_NAMES))
        if unknown:
            raise ValueError(f"weights: unknown component(s) {unknown}; known: {list(COMPONENT_NAMES)}")
        if any(not math.isfinite(w) or w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError(f"weights: need non-negative numbers, at least one positive (got {dict(self.weights)})")
        low, high = self.bands
        if not 0 <= low <= high <= 100:
            raise ValueError(f"bands: need 0 <= low <= high <= 100 (got {list(self.bands)})")

    def weight(self, component: str) -> float:
        """Return a component's weight (0 when the config leaves it out)."""
        return float(self.weights.get(component, 0.0))


VOICE_COLUMNS = ("answer_effort_ratio", "fluency_score_mean", "loudness_mean_db_rel_mean", "f0_range_st_rel_mean",
                 "pause_ratio_rel_mean", "emotion_balance_mean")


def metrics_table(phase_activity: pa.Table) -> pa.Table:
    """Return the metrics of every learner x course x phase (keys, cohort, level, phase_index,
    response counts and one column per ``METRICS``), null where a metric has no data (no
    audio, no low score, ...)."""
    present = set(phase_activity.column_names)
    voice = ", ".join(c if c in present else f"NULL::DOUBLE AS {c}" for c in VOICE_COLUMNS)
    audio_ok = "coalesce(audio_ok_responses, 0)" if "audio_ok_responses" in present else "0"
    return query(
        f"""
        SELECT user_id, course_id, phase, phase_index, cohort, level, responses,
               {audio_ok} AS audio_ok_responses,
               active_days / span_days AS active_day_share,
               longest_streak_days::DOUBLE AS longest_streak_days,
               longest_gap_days::DOUBLE AS longest_gap_days,
               -- sessions of single events (platforms that log no session length) measure no time
               CASE WHEN minutes > 0 THEN minutes / active_days END AS minutes_per_active_day,
               completion_rate, curriculum_share, retry_after_low_share,
               returns_after_gap::DOUBLE AS returns_after_gap,
               lessons_completed * 7.0 / span_days AS lessons_per_week,
               median_latency_s, {voice}
        FROM activity
        """,
        activity=phase_activity,
    )


def score_version(fluency_head: str | None, emotion_model: str | None) -> str:
    """Return the score's version: its definition, plus the models its components used (the
    fluency head's file name, the emotion model and revision), so a change to either shows."""
    parts = [SCORE_DEFINITION]
    if fluency_head:
        parts.append(f"fluency={fluency_head}")
    if emotion_model:
        parts.append(f"emotion={emotion_model}")
    return "|".join(parts)
