"""Select the learners and time window a run is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from features.duck import query, sql_str


@dataclass(frozen=True)
class Selection:
    """Which events a run keeps (the ``select`` config section): learners by level (in force
    at ``as_of``) and cohort, and a ``[start, end)`` time window. Empty tuples and None mean
    "no restriction".

    Raises:
        ValueError: a window whose start is not before its end, or a time without an offset.
    """

    levels: tuple[str, ...] = ()
    cohorts: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: give the time with its UTC offset, got {value.isoformat()}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start ({self.start.isoformat()}) must be before end ({self.end.isoformat()})")


FILTER_REASONS = ("after_as_of", "level", "cohort", "before_window", "after_window")


def select_events(events: pa.Table, selection: Selection, as_of: datetime) -> tuple[pa.Table, dict[str, int]]:
    """Return (selected events, filtered-out count per reason).

    Each event that is not selected is counted under the first reason that applies, in
    ``FILTER_REASONS`` order, so ``len(events) = len(selected) + sum(counts)``. A learner's level
    is the last one seen at or before ``as_of``; their cohort is the first one seen.
    """
    def in_list(col: str, values: tuple[str, ...]) -> str:
        return "true" if not values else f"{col} IN ({', '.join(sql_str(v) for v in values)})"

    ts = lambda d: f"TIMESTAMPTZ {sql_str(d.isoformat())}"  # noqa: E731
    table = query(
        f"""
        WITH learner AS (
          SELECT user_id,
                 arg_max(level, ts) FILTER (level IS NOT NULL AND ts <= {ts(as_of)}) AS learner_level,
                 arg_min(cohort, ts) FILTER (cohort IS NOT NULL) AS learner_cohort
          FROM events GROUP BY user_id)
        SELECT e.*,
          CASE WHEN e.ts > {ts(as_of)} THEN 'after_as_of'
               WHEN NOT coalesce({in_list('l.learner_level', selection.levels)}, false) THEN 'level'
               WHEN NOT coalesce({in_list('l.learner_cohort', selection.cohorts)}, false) THEN 'cohort'
               WHEN {f"e.ts < {ts(selection.start)}" if selection.start else "false"} THEN 'before_window'
               WHEN {f"e.ts >= {ts(selection.end)}" if selection.end else "false"} THEN 'after_window'
          END AS filter_reason
        FROM events e JOIN learner l USING (user_id)
        """,
        events=events,
    )
    reasons = table["filter_reason"].to_pylist()
    counts = {r: reasons.count(r) for r in FILTER_REASONS}
    selected = query("SELECT * EXCLUDE (filter_reason) FROM t WHERE filter_reason IS NULL", t=table)
    return selected, counts
