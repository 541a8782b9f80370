"""Audio results on the responses table: relative to each learner's own baseline, and per phase.

Absolute voice features mostly tell microphones, ages and genders apart; a learner's change
against their own usual voice is what can speak to engagement. ``<feature>_rel`` is the
response's value minus the median of that learner's analysable responses in the run.
"""

from __future__ import annotations

import pyarrow as pa

from features.duck import exact_avg, query
from features.statuses import AudioStatus

AUDIO_OK_SQL = f"audio_status = '{AudioStatus.OK}'"  # SQL: the response's audio could be analysed

# Aggregated per learner x phase (mean of absolute and relative values).
PHASE_FEATURES = ("speaking_rate_syl_per_s", "pause_ratio", "f0_range_st", "loudness_mean_db")


def attach_audio(responses: pa.Table, clips: pa.Table, tone_features: list[str], *per_response: pa.Table) -> pa.Table:
    """Return ``responses`` with clip facts, tone features (absolute and ``_rel``) and the
    columns of each ``per_response`` table (emotion, head scores) joined by ``response_id``;
    row order kept."""
    joined = query(
        """
        SELECT r.*, c.* EXCLUDE (response_id)
        FROM (SELECT *, row_number() OVER () AS _row FROM responses) r LEFT JOIN clips c USING (response_id)
        """, responses=responses, clips=clips)
    names = [f"t{i}" for i in range(len(per_response))]
    return query(
        f"""
        SELECT r.* {"".join(f", {n}.* EXCLUDE (response_id)" for n in names)}
        FROM joined r {" ".join(f"LEFT JOIN {n} USING (response_id)" for n in names)}
        ORDER BY r._row
        """,
        joined=relative_to_usual(joined, tone_features), **dict(zip(names, per_response)),
    ).drop_columns(["_row"])


def relative_to_usual(responses: pa.Table, tone_features: list[str] | None = None) -> pa.Table:
    """Return ``responses`` with ``<feature>_rel``: each answer's value minus the learner's
    median over their analysable answers in ``responses`` (replacing any ``_rel`` columns there).
    ``tone_features`` default to those with a ``_rel`` column already. Row order kept."""
    names = responses.column_names
    if tone_features is None:
        tone_features = [c[:-4] for c in names if c.endswith("_rel") and c[:-4] in names]
    if not tone_features or "audio_status" not in names:
        return responses
    rel = ", ".join(f"{f} - median({f}) FILTER ({AUDIO_OK_SQL}) OVER (PARTITION BY user_id) AS {f}_rel"
                    for f in tone_features)
    base = responses.drop_columns([f"{f}_rel" for f in tone_features if f"{f}_rel" in names])
    return query(f"SELECT * EXCLUDE (_order), {rel} FROM (SELECT *, row_number() OVER () AS _order FROM r) "
                 "ORDER BY _order", r=base)


def phase_audio(responses: pa.Table) -> pa.Table:
    """Return per learner x course x phase: analysable-audio counts and shares, means of
    ``PHASE_FEATURES`` (absolute and relative), the most frequent emotion, mean valence/arousal
    (null unless the model outputs them), the answers' mean length against the expected length
    (``answer_effort_ratio``, capped at 3) and the mean emotion balance."""
    means = ", ".join(
        f"round({exact_avg(f, AUDIO_OK_SQL)}, 4) AS {f}_mean, "
        f"round({exact_avg(f + '_rel', AUDIO_OK_SQL)}, 4) AS {f}_rel_mean"
        for f in PHASE_FEATURES)
    return query(
        f"""
        WITH labels AS (
          SELECT user_id, course_id, phase, emotion_label, count(*) AS n FROM responses
          WHERE phase IS NOT NULL AND emotion_label IS NOT NULL GROUP BY ALL),
        dominant AS (
          SELECT user_id, course_id, phase, arg_max(emotion_label, (n, emotion_label)) AS emotion_dominant
          FROM labels GROUP BY ALL)
        SELECT user_id, course_id, phase,
               count(*) FILTER ({AUDIO_OK_SQL}) AS audio_ok_responses,
               round(count(*) FILTER ({AUDIO_OK_SQL}) / count(*), 4) AS audio_ok_share,
               {means},
               any_value(d.emotion_dominant) AS emotion_dominant,
               round({exact_avg('valence')}, 4) AS valence_mean, round({exact_avg('arousal')}, 4) AS arousal_mean,
               round({exact_avg('least(audio_duration_s * 1000.0 / expected_duration_ms, 3.0)',
                                f'{AUDIO_OK_SQL} AND expected_duration_ms > 0')}, 4) AS answer_effort_ratio,
               round({exact_avg('emotion_balance')}, 4) AS emotion_balance_mean
               {f", round({exact_avg('fluency_score')}, 3) AS fluency_score_mean" if "fluency_score" in responses.column_names else ""}
        FROM responses LEFT JOIN dominant d USING (user_id, course_id, phase)
        WHERE phase IS NOT NULL GROUP BY ALL
        """,
        responses=responses,
    )
