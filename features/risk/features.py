"""Risk features of a learner x course at snapshot day d, from what happened before d only.

``window_features`` reads the daily activity table; ``voice_features`` the responses; the
current phase's score and components come from ``phase_features`` (phase activity and scores as
of d). Nothing here reads outcomes: withdrawal events never count as activity, and every input
is cut at d (tests delete everything after d and compare).
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.activity import ActivityRules, phase_activity
from features.audio_features import relative_to_usual
from features.duck import query
from features.scoring.components import ScoringOptions, metrics_table
from features.scoring.scores import phase_scores
from features.sessions import build_sessions

WINDOW_FEATURES = ("events_7d", "events_14d", "events_28d", "active_days_7d", "active_days_14d", "active_days_28d",
                   "events_trend", "days_since_last_activity", "tenure_days", "lessons_completed_28d",
                   "lessons_completed_total", "milestones_total", "score_mean_28d", "score_mean_total")
VOICE_FEATURES = ("responses_28d", "latency_median_28d", "answer_effort_28d", "loudness_rel_change_14d",
                  "f0_range_rel_change_14d", "pause_ratio_rel_change_14d")
PHASE_FEATURES = ("phase_index", "curriculum_share", "engagement_score", "regularity", "completion", "pace",
                  "responsiveness", "answer_effort", "coverage")
FEATURES = WINDOW_FEATURES + VOICE_FEATURES + PHASE_FEATURES


def midnight(day: date) -> datetime:
    """Return the UTC midnight that starts ``day`` (a snapshot's cut-off)."""
    return datetime.combine(day, time(), timezone.utc)


def window_features(daily: pa.Table, snaps: pd.DataFrame) -> pd.DataFrame:
    """Return the activity-window features of each snapshot row (user_id, course_id, snapshot)."""
    return query(
        """
        SELECT s.user_id, s.course_id, s.snapshot,
               sum(d.events) FILTER (d.day >= s.snapshot - 7) AS events_7d,
               sum(d.events) FILTER (d.day >= s.snapshot - 14) AS events_14d,
               sum(d.events) FILTER (d.day >= s.snapshot - 28) AS events_28d,
               count(*) FILTER (d.day >= s.snapshot - 7) AS active_days_7d,
               count(*) FILTER (d.day >= s.snapshot - 14) AS active_days_14d,
               count(*) FILTER (d.day >= s.snapshot - 28) AS active_days_28d,
               coalesce(sum(d.events) FILTER (d.day >= s.snapshot - 7), 0)
                 - coalesce(sum(d.events) FILTER (d.day >= s.snapshot - 14 AND d.day < s.snapshot - 7), 0) AS events_trend,
               s.snapshot - max(d.day) AS days_since_last_activity,
               s.snapshot - min(d.day) AS tenure_days,
               sum(d.lessons_completed) FILTER (d.day >= s.snapshot - 28) AS lessons_completed_28d,
               sum(d.lessons_completed) AS lessons_completed_total, sum(d.milestones) AS milestones_total,
               sum(d.score_sum) FILTER (d.day >= s.snapshot - 28) / nullif(sum(d.score_n) FILTER (d.day >= s.snapshot - 28), 0)
                 AS score_mean_28d,
               sum(d.score_sum) / nullif(sum(d.score_n), 0) AS score_mean_total
        FROM snaps s JOIN daily d ON d.user_id = s.user_id AND d.course_id = s.course_id AND d.day < s.snapshot
        GROUP BY s.user_id, s.course_id, s.snapshot
        """, snaps=snaps[["user_id", "course_id", "snapshot"]], daily=daily).to_pandas()


def voice_features(responses: pa.Table, snaps: pd.DataFrame) -> pd.DataFrame:
    """Return the answers' features of each snapshot row: answers and median latency in the last
    28 days, answer effort, and the change of loudness, pitch range and pausing from the 14 days
    before to the last 14 days. The change is a difference of the learner's own means, so it is
    relative to their usual voice without reading the ``_rel`` columns (whose per-learner median
    spans answers after d)."""
    present = set(responses.column_names)

    def change(col: str) -> str:
        if col not in present:
            return "NULL::DOUBLE"
        return (f"avg({col}) FILTER (ok AND r.day >= s.snapshot - 14) - "
                f"avg({col}) FILTER (ok AND r.day < s.snapshot - 14 AND r.day >= s.snapshot - 28)")

    ok = "audio_status = 'ok'" if "audio_status" in present else "false"
    effort = ("avg(least(audio_duration_s * 1000.0 / expected_duration_ms, 3.0)) FILTER (ok AND expected_duration_ms > 0)"
              if "audio_duration_s" in present else "NULL::DOUBLE")
    columns = [c for c in ("audio_duration_s", "loudness_mean_db", "f0_range_st", "pause_ratio",
                           "expected_duration_ms", "latency_ms") if c in present]
    return query(
        f"""
        WITH r AS (SELECT user_id, course_id, CAST(submitted_at AS DATE) AS day, {ok} AS ok, {", ".join(columns)}
                   FROM responses)
        SELECT s.user_id, s.course_id, s.snapshot, count(*) AS responses_28d,
               median(latency_ms) / 1000.0 AS latency_median_28d, {effort} AS answer_effort_28d,
               {change("loudness_mean_db")} AS loudness_rel_change_14d,
               {change("f0_range_st")} AS f0_range_rel_change_14d,
               {change("pause_ratio")} AS pause_ratio_rel_change_14d
        FROM snaps s JOIN r ON r.user_id = s.user_id AND r.course_id = s.course_id
             AND r.day < s.snapshot AND r.day >= s.snapshot - 28
        GROUP BY s.user_id, s.course_id, s.snapshot
        """, snaps=snaps[["user_id", "course_id", "snapshot"]], responses=responses).to_pandas()


def current_phase(scores: pd.DataFrame, activity: pd.DataFrame) -> pd.DataFrame:
    """Return per learner x course the ``PHASE_FEATURES`` of the phase of their latest activity."""
    latest = query("SELECT user_id, course_id, arg_max(phase, (last_activity_at, phase_index)) AS phase, "
                   "arg_max(curriculum_share, (last_activity_at, phase_index)) AS curriculum_share "
                   "FROM a GROUP BY ALL", a=activity[["user_id", "course_id", "phase", "phase_index", "last_activity_at",
                                                       "curriculum_share"]]).to_pandas()
    cols = [c for c in PHASE_FEATURES if c != "curriculum_share"]
    return latest.merge(scores[["user_id", "course_id", "phase"] + cols], on=["user_id", "course_id", "phase"],
                        how="left").drop(columns=["phase"])


def phase_features(timeline: pa.Table, responses: pa.Table, day: date, rules: ActivityRules, phase_lessons: pa.Table,
                   reference: pd.DataFrame, scoring: ScoringOptions) -> pd.DataFrame:
    """Return the current phase's features of every learner x course as of ``day`` (events and
    answers before its midnight only, the voice measures relative to the learner's usual over
    those answers), scored against ``reference``."""
    cut = midnight(day)
    before = timeline.filter(pc.less(timeline["ts"], pa.scalar(cut, timeline.schema.field("ts").type)))
    answers = relative_to_usual(responses.filter(
        pc.less(responses["submitted_at"], pa.scalar(cut, responses.schema.field("submitted_at").type))))
    if before.num_rows == 0:
        return pd.DataFrame(columns=["user_id", "course_id", *PHASE_FEATURES])
    activity = phase_activity(before, build_sessions(before), answers, cut, rules, phase_lessons)
    scores = phase_scores(metrics_table(activity).to_pandas(), reference, scoring, "risk")
    return current_phase(scores, activity.to_pandas())


def snapshot_features(snaps: pd.DataFrame, daily: pa.Table, responses: pa.Table,
                      phases: dict[date, pd.DataFrame]) -> pd.DataFrame:
    """Return ``snaps`` with every ``FEATURES`` column (null where there is no data).
    ``phases`` maps each snapshot day to its ``phase_features``."""
    keys = ["user_id", "course_id", "snapshot"]
    out = snaps.merge(window_features(daily, snaps), on=keys, how="left")
    out = out.merge(voice_features(responses, snaps), on=keys, how="left")
    phase = pd.concat([f.assign(snapshot=day) for day, f in phases.items()], ignore_index=True) if phases else \
        pd.DataFrame(columns=keys + list(PHASE_FEATURES))
    out = out.merge(phase, on=keys, how="left")
    for column in FEATURES:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out
