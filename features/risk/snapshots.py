"""Snapshots and their labels: who was at risk of leaving on day d, and whether they left.

A snapshot day d is a UTC midnight. A learner x course is in the snapshot when they had
learner-initiated activity in the ``window_days`` before d and had neither withdrawn nor finished
the course before d. Its label, known only when d + ``horizon_days`` <= as_of, is 1 when they
withdrew within the horizon (platforms that send withdrawal events), else when they had no
activity within it and did not finish the course in it. Finishing is reaching the last milestone
of the last phase of the course at the learner's level.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from features.activity import ActivityRules
from features.duck import query, sql_str
from features.risk.options import RiskOptions


def daily_activity(timeline: pa.Table, rules: ActivityRules) -> pa.Table:
    """Return one row per learner x course x UTC day with learner-initiated activity: events,
    lessons completed, milestones reached, and the sum and count of scores."""
    types = ", ".join(sql_str(t) for t in rules.learner_event_types)
    return query(
        f"""
        SELECT user_id, course_id, CAST(ts AS DATE) AS day, count(*) AS events,
               count(*) FILTER (event_type = 'lesson_complete') AS lessons_completed,
               count(*) FILTER (event_type = 'milestone_reached') AS milestones,
               sum(score) AS score_sum, count(score) AS score_n
        FROM timeline WHERE event_type IN ({types}) AND course_id IS NOT NULL
        GROUP BY ALL ORDER BY user_id, course_id, day
        """, timeline=timeline)


def outcome_times(timeline: pa.Table, final_milestones: pa.Table, options: RiskOptions) -> pa.Table:
    """Return per learner x course the first withdrawal time and the time the course was
    finished (null when neither happened). ``final_milestones``: (course_id, level,
    milestone_id) of each course level's last milestone."""
    types = ", ".join(sql_str(t) for t in options.withdrawal_event_types) or "NULL"
    return query(
        f"""
        SELECT user_id, course_id,
               min(ts) FILTER (event_type IN ({types})) AS withdrawn_at,
               min(ts) FILTER (event_type = 'milestone_reached' AND f.milestone_id IS NOT NULL) AS finished_at
        FROM timeline t LEFT JOIN finals f USING (course_id, level, milestone_id)
        WHERE course_id IS NOT NULL GROUP BY ALL
        """, timeline=timeline, finals=final_milestones)


def snapshot_days(daily: pa.Table, every_days: int, as_of: datetime, window_days: int) -> list[date]:
    """Return snapshot days every ``every_days`` from ``window_days`` after the first activity
    up to as_of's day (the last one for scoring, earlier ones for training)."""
    import pyarrow.compute as pc

    if daily.num_rows == 0:
        return []
    first = pc.min(daily["day"]).as_py() + timedelta(days=window_days // 4)
    last = as_of.date()
    days = []
    while last >= first:
        days.append(last)
        last -= timedelta(days=every_days)
    return sorted(days)


def snapshots(daily: pa.Table, outcomes: pa.Table, days: list[date], options: RiskOptions,
              as_of: datetime) -> pd.DataFrame:
    """Return the snapshot rows (user_id, course_id, snapshot day) with ``label`` (null when its
    horizon runs past as_of) and ``label_source`` (``withdrawal`` or ``inactivity``)."""
    has_withdrawals = query("SELECT count(withdrawn_at) > 0 FROM o", o=outcomes).column(0)[0].as_py()
    snaps = pa.table({"snapshot": pa.array(days, pa.date32())})
    h, w = options.horizon_days, options.window_days
    return query(
        f"""
        WITH recent AS (
          SELECT DISTINCT d.user_id, d.course_id, s.snapshot
          FROM daily d JOIN snaps s ON d.day < s.snapshot AND d.day >= s.snapshot - {w}),
        later AS (
          SELECT r.user_id, r.course_id, r.snapshot,
                 count(d.day) FILTER (d.day >= r.snapshot AND d.day < r.snapshot + {h}) AS active_days_ahead
          FROM recent r LEFT JOIN daily d ON d.user_id = r.user_id AND d.course_id = r.course_id
               AND d.day >= r.snapshot AND d.day < r.snapshot + {h}
          GROUP BY ALL)
        SELECT l.user_id, l.course_id, l.snapshot,
               CASE WHEN l.snapshot + {h} > CAST({sql_str(as_of.isoformat())} AS TIMESTAMPTZ)::DATE THEN NULL
                    WHEN {has_withdrawals} THEN coalesce(CAST(o.withdrawn_at AS DATE) < l.snapshot + {h}, false)
                    ELSE l.active_days_ahead = 0
                         AND NOT coalesce(CAST(o.finished_at AS DATE) < l.snapshot + {h}, false)
               END::INTEGER AS label,
               CASE WHEN {has_withdrawals} THEN 'withdrawal' ELSE 'inactivity' END AS label_source
        FROM later l LEFT JOIN outcomes o USING (user_id, course_id)
        WHERE (o.withdrawn_at IS NULL OR CAST(o.withdrawn_at AS DATE) >= l.snapshot)
          AND (o.finished_at IS NULL OR CAST(o.finished_at AS DATE) >= l.snapshot)
        ORDER BY l.snapshot, l.user_id, l.course_id
        """, daily=daily, snaps=snaps, outcomes=outcomes).to_pandas()
