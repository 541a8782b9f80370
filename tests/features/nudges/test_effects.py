"""Nudge effects: a planted uplift is recovered within its interval, a null type's interval
covers zero, unfinished windows wait, and nudge events are not returns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from features.nudges.effects import measured_uplift, nudge_effects, returns

T = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)


def platform(n: int = 4000, seed: int = 0):
    """Learners assigned `streak` (planted +0.15 return) or `tip` (no effect), 20% held out."""
    rng = np.random.default_rng(seed)
    users = [f"u{i:05d}" for i in range(n)]
    kind = np.where(np.arange(n) % 2 == 0, "streak", "tip")
    arm = np.where(rng.random(n) < 0.2, "held_out", "treated")
    base = 0.35
    p = base + np.where((kind == "streak") & (arm == "treated"), 0.15, 0.0)
    returned = rng.random(n) < p
    assignments = pd.DataFrame({"user_id": users, "type": kind, "arm": arm, "risk_band": "high",
                                "assigned_at": pd.Timestamp(T)})
    rows = [{"user_id": u, "event_type": "lesson_start", "ts": T + timedelta(days=float(rng.uniform(0.1, 6.9)))}
            for u, r in zip(users, returned) if r]
    # every treated learner's nudge events: never a return
    rows += [{"user_id": u, "event_type": "nudge_opened", "ts": T + timedelta(hours=1)}
             for u, a in zip(users, arm) if a == "treated"]
    rows += [{"user_id": u, "event_type": "lesson_start", "ts": T + timedelta(days=9)} for u in users]  # after the window
    return assignments, pa.Table.from_pylist(rows), returned


def test_planted_uplift_is_recovered_and_the_null_type_covers_zero():
    assignments, timeline, returned = platform()
    units = returns(assignments, timeline, T + timedelta(days=10), 7)
    assert len(units) == len(assignments) and units["returned"].sum() == returned.sum()
    effects = nudge_effects(units).set_index(["scope", "type"], drop=False)
    streak, tip = effects.loc[("type", "streak")], effects.loc[("type", "tip")]
    assert streak["ci_low"] <= 0.15 <= streak["ci_high"] and streak["ci_low"] > 0
    assert tip["ci_low"] <= 0 <= tip["ci_high"]
    assert streak["treated"] + streak["held_out"] == 2000
    assert measured_uplift(nudge_effects(units))[("streak", "high")] == streak["uplift"]


def test_windows_not_yet_passed_are_not_measured():
    assignments, timeline, _ = platform(n=100)
    assert returns(assignments, timeline, T + timedelta(days=6), 7).empty
    assert nudge_effects(returns(assignments, timeline, T + timedelta(days=6), 7)).empty
