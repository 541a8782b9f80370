"""Do nudges work? Treated vs held-out learners' return within a window after assignment.

For every assignment whose window (assigned_at, assigned_at + ``window_days``] has passed by
as_of, a learner returned when they had a learner-initiated event in it (nudge events never
count). Both arms start at the same time (the run's as_of), so the difference of return rates is
the effect of being nudged. Per type, the unit is a learner x run assigned that type (treated got
it, held-out would have); overall, a learner x run with any nudge. The 95% interval is the Wald
interval of a difference of two proportions.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from features.activity import ActivityRules
from features.duck import query, sql_str
from features.stats import difference_ci

EFFECT_SCHEMA = pa.schema([("scope", pa.string()), ("type", pa.string()), ("risk_band", pa.string()),
                           ("treated", pa.int64()), ("treated_returned", pa.int64()), ("treated_rate", pa.float64()),
                           ("held_out", pa.int64()), ("held_out_returned", pa.int64()),
                           ("held_out_rate", pa.float64()), ("uplift", pa.float64()), ("ci_low", pa.float64()),
                           ("ci_high", pa.float64())])
EFFECT_COLUMNS = tuple(EFFECT_SCHEMA.names)


def returns(assignments: pd.DataFrame, timeline: pa.Table, as_of: datetime, window_days: int,
            rules: ActivityRules = ActivityRules()) -> pd.DataFrame:
    """Return one row per learner x run x type of the assignments whose window has passed:
    arm, type, risk band and ``returned`` (0/1)."""
    types = ", ".join(sql_str(t) for t in rules.learner_event_types)
    units = assignments[["user_id", "type", "arm", "risk_band", "assigned_at"]].drop_duplicates(
        ["user_id", "type", "assigned_at"])
    return query(
        f"""
        WITH due AS (SELECT * FROM units
                     WHERE assigned_at + INTERVAL {int(window_days)} DAY <= CAST({sql_str(as_of.isoformat())} AS TIMESTAMPTZ))
        SELECT u.user_id, u.type, u.arm, coalesce(u.risk_band, 'unscored') AS risk_band, u.assigned_at,
               (count(t.ts) > 0)::INTEGER AS returned
        FROM due u LEFT JOIN (SELECT user_id, ts FROM timeline WHERE event_type IN ({types})) t
          ON t.user_id = u.user_id AND t.ts > u.assigned_at AND t.ts <= u.assigned_at + INTERVAL {int(window_days)} DAY
        GROUP BY ALL
        """, units=units, timeline=timeline.select(["user_id", "event_type", "ts"])).to_pandas()


def _difference(treated: np.ndarray, held: np.ndarray) -> dict:
    diff, low, high = difference_ci(treated, held)
    return {"treated": len(treated), "treated_returned": int(treated.sum()),
            "treated_rate": round(float(treated.mean()), 4) if len(treated) else float("nan"), "held_out": len(held),
            "held_out_returned": int(held.sum()),
            "held_out_rate": round(float(held.mean()), 4) if len(held) else float("nan"),
            "uplift": round(diff, 4), "ci_low": round(low, 4), "ci_high": round(high, 4)}


def nudge_effects(units: pd.DataFrame) -> pd.DataFrame:
    """Return the ``nudge_effects`` rows from ``returns``: overall, per type, and per type x
    risk band (what ranking uses once measured)."""
    if not len(units):
        return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    rows = []
    overall = units.groupby(["user_id", "assigned_at", "arm"], as_index=False)["returned"].max()
    rows.append({"scope": "overall", "type": None, "risk_band": None,
                 **_difference(overall.loc[overall["arm"] == "treated", "returned"].to_numpy(),
                               overall.loc[overall["arm"] == "held_out", "returned"].to_numpy())})
    for keys, part in [*((("type", t), p) for t, p in units.groupby("type")),
                       *((("type x band", t, b), p) for (t, b), p in units.groupby(["type", "risk_band"]))]:
        rows.append({"scope": keys[0], "type": keys[1], "risk_band": keys[2] if len(keys) > 2 else None,
                     **_difference(part.loc[part["arm"] == "treated", "returned"].to_numpy(),
                                   part.loc[part["arm"] == "held_out", "returned"].to_numpy())})
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def measured_uplift(effects: pd.DataFrame, min_per_arm: int = 30) -> dict[tuple[str, str], float]:
    """Return (type, risk band) -> uplift where both arms had at least ``min_per_arm`` units."""
    rows = effects[(effects["scope"] == "type x band") & (effects["treated"] >= min_per_arm)
                   & (effects["held_out"] >= min_per_arm)]
    return {(t, b): float(u) for t, b, u in zip(rows["type"], rows["risk_band"], rows["uplift"])}
