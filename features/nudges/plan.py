"""This run's nudges: which rules match each learner, in what order, within which limits, and who
is held out.

Expected benefit of a candidate = the measured uplift of its type for learners in the same risk
band (treated minus held-out 7-day return rate, from the latest ``nudge_effects``) when there is
one, else the rule's ``prior``; times the learner's risk probability when scored. Candidates are
taken in that order (ties: rule id) while the limits hold (``NudgeOptions``); one nudge per type
per run.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from features.nudges.options import NudgeOptions
from features.nudges.rules import TEXTS, NudgeRule

NUDGE_COLUMNS = ("nudge_id", "user_id", "course_id", "type", "channel", "title", "body", "action", "priority",
                 "expected_benefit", "reason", "source", "send_after", "expires_at", "risk_band")
JSONL_FIELDS = ("nudge_id", "user_id", "type", "channel", "title", "body", "action", "priority", "reason", "source",
                "send_after", "expires_at")


def held_out(user_ids, share: float, salt: str) -> np.ndarray:
    """Return, per learner id, whether they are in the holdout: the first 8 bytes of
    sha256(salt:user_id) as a fraction below ``share`` (stable across runs while the salt is)."""
    return np.array([int.from_bytes(hashlib.sha256(f"{salt}:{u}".encode()).digest()[:8], "big") / 2.0**64 < share
                     for u in user_ids], dtype=bool)


def nudge_id(run_date, user_id: str, rule_id: str) -> str:
    """Return the deterministic id of a nudge: run date, learner and rule."""
    return hashlib.sha256(f"{run_date}|{user_id}|{rule_id}".encode()).hexdigest()[:20]


def _fill(template: str, frame: pd.DataFrame) -> pd.Series:
    """Return ``template`` filled with each row's values (a format string over column names)."""
    import string

    out = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    for literal, field, spec, _ in string.Formatter().parse(template):
        out = out + literal
        if field is not None:
            out = out + pd.Series([format(v, spec) for v in frame[field].tolist()], index=frame.index, dtype=object)
    return out


def candidates(features: pd.DataFrame, rules: list[NudgeRule]) -> tuple[pd.DataFrame, Counter]:
    """Return (every rule x learner whose condition holds, with the rule's texts filled with the
    learner's own numbers; counts of matches dropped because a text field had no value)."""
    parts, dropped = [], Counter()
    for rule in rules:
        matched = features[features.eval(rule.when, engine="python").fillna(False).astype(bool)]
        needed = sorted(rule.fields() - {"user_id", "course_id"})
        complete = matched[needed].notna().all(axis=1) if needed else pd.Series(True, index=matched.index)
        dropped[rule.id] += int((~complete).sum())
        matched = matched[complete]
        parts.append(pd.DataFrame({
            "user_id": matched["user_id"], "course_id": matched["course_id"], "source": rule.id, "type": rule.type,
            "channel": rule.channel, "prior": rule.prior, "expires_hours": rule.expires_hours,
            "risk_probability": matched.get("risk_probability"), "risk_band": matched.get("risk_band"),
            **{t: _fill(getattr(rule, t), matched) for t in TEXTS}}))
    columns = ["user_id", "course_id", "source", "type", "channel", "prior", "expires_hours", "risk_probability",
               "risk_band", *TEXTS]
    parts = [p for p in parts if len(p)]
    return (pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)), +dropped


def rank(cands: pd.DataFrame, uplift: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Return the candidates with ``expected_benefit``, best first per learner."""
    keys = pd.MultiIndex.from_arrays([cands["type"], cands["risk_band"].fillna("unscored")])
    measured = pd.Series(uplift, dtype=float).reindex(keys).to_numpy() if uplift else np.full(len(cands), np.nan)
    base = np.where(np.isnan(measured), cands["prior"].to_numpy(dtype=float), measured)
    risk = pd.to_numeric(cands["risk_probability"], errors="coerce").fillna(1.0).to_numpy()
    out = cands.assign(expected_benefit=np.round(base * risk, 6))
    return out.sort_values(["user_id", "expected_benefit", "source"], ascending=[True, False, True], kind="stable")


def apply_limits(ranked: pd.DataFrame, state: pd.DataFrame, opted_out: set[str], as_of: datetime,
                 options: NudgeOptions) -> tuple[pd.DataFrame, Counter]:
    """Return (the candidates kept, best first, with ``priority`` 1..N per learner; why the
    others were not). A candidate is dropped when its learner opted out, its type is suppressed,
    in its cooldown or at its weekly cap for the learner; then all but the best of a type; then
    those past the learner's weekly cap (weekly_cap) or ``max_per_learner`` (run_cap)."""
    why = Counter()
    past = state[["user_id", "type", "last_sent_at", "suppressed"]].assign(
        type_sends=[len(s) for s in state["sends"]])
    week = past.groupby("user_id")["type_sends"].sum().rename("week_sends")
    rows = ranked.merge(past, on=["user_id", "type"], how="left").merge(week, on="user_id", how="left")
    last = pd.to_datetime(rows["last_sent_at"], utc=True)
    checks = [("opted_out", rows["user_id"].isin(opted_out)),
              ("suppressed", rows["suppressed"].fillna(False).astype(bool)),
              ("cooldown", (last + pd.Timedelta(hours=options.cooldown_hours) > pd.Timestamp(as_of)).fillna(False)),
              ("type_cap", rows["type_sends"].fillna(0) >= options.max_per_type_per_week)]
    blocked = pd.Series(False, index=rows.index)
    for reason, mask in checks:
        mask = mask.to_numpy(dtype=bool) & ~blocked.to_numpy()
        why[reason] += int(mask.sum())
        blocked |= mask
    rows = rows[~blocked]
    repeat = rows.duplicated(["user_id", "type"])
    why["same_type"] += int(repeat.sum())
    rows = rows[~repeat]
    order = rows.groupby("user_id").cumcount()
    weekly_left = options.max_per_learner_per_week - rows["week_sends"].fillna(0)
    over_week = order >= weekly_left
    over_run = ~over_week & (order >= options.max_per_learner)
    why["weekly_cap"] += int(over_week.sum())
    why["run_cap"] += int(over_run.sum())
    kept = rows[~over_week & ~over_run].assign(priority=order[~over_week & ~over_run] + 1)
    return kept[[*ranked.columns, "priority"]].reset_index(drop=True), +why


def send_times(as_of: datetime, offsets_min: pd.Series, options: NudgeOptions) -> pd.Series:
    """Return per learner the earliest send time at or after ``as_of`` outside the quiet hours
    in their local time (``offsets_min``: UTC offset in minutes, UTC where null)."""
    offset = pd.to_timedelta(pd.to_numeric(offsets_min, errors="coerce").fillna(0).to_numpy(), unit="min")
    start = pd.Timestamp(as_of)
    local = pd.Series(start + offset, index=offsets_min.index)  # local wall time, labelled UTC
    hour = local.dt.hour
    s, e = options.quiet_start_hour, options.quiet_end_hour
    quiet = ((hour >= s) | (hour < e)) if s > e else ((hour >= s) & (hour < e))
    wake = local.dt.floor("D") + pd.Timedelta(hours=e)
    wake = wake.where(wake > local, wake + pd.Timedelta(days=1))
    return (wake - pd.Series(offset, index=offsets_min.index)).where(quiet, start)


def plan(kept: pd.DataFrame, offsets: dict[str, float], run_date, as_of: datetime,
         options: NudgeOptions) -> pd.DataFrame:
    """Return the nudges (``NUDGE_COLUMNS``) of the kept candidates, each with its id,
    ``send_after`` outside quiet hours and ``expires_at``."""
    if not len(kept):
        return pd.DataFrame(columns=list(NUDGE_COLUMNS))
    out = kept.copy()
    out["nudge_id"] = [nudge_id(run_date, u, s) for u, s in zip(out["user_id"], out["source"])]
    out["send_after"] = send_times(as_of, out["user_id"].map(offsets), options)
    out["expires_at"] = out["send_after"] + pd.to_timedelta(out["expires_hours"].astype(float), unit="h")
    return out[list(NUDGE_COLUMNS)].reset_index(drop=True)


def jsonl_lines(nudges: pd.DataFrame) -> list[str]:
    """Return one JSON line per nudge with ``JSONL_FIELDS`` (times in ISO 8601, UTC)."""
    def value(v):
        return v.astimezone(timezone.utc).isoformat() if isinstance(v, datetime) else v

    return [json.dumps({f: value(r[f]) for f in JSONL_FIELDS}, ensure_ascii=False, sort_keys=False)
            for r in nudges.to_dict("records")]


def nudge_run(features: pd.DataFrame, rules: list[NudgeRule], previous_state: pd.DataFrame, opens: pd.DataFrame,
              opted_out: set[str], offsets: dict[str, float], run_date, as_of: datetime, options: NudgeOptions,
              uplift: dict[tuple[str, str], float] | None = None) -> dict:
    """Plan one run's nudges; return ``nudges`` (treated learners' only), ``assignments`` (every
    learner with a nudge to get: arm ``treated`` or ``held_out``, and the nudges, which held-out
    learners never receive), the next ``state`` and ``counts`` for the manifest."""
    from features.nudges.state import resolve, with_sends

    state = resolve(previous_state, opens, as_of, options)
    cands, dropped = candidates(features, rules)
    kept, why = apply_limits(rank(cands, uplift or {}), state, opted_out, as_of, options)
    planned = plan(kept, offsets, run_date, as_of, options)
    holdout = held_out(planned["user_id"], options.holdout_share, options.holdout_salt)
    assignments = planned[["nudge_id", "user_id", "course_id", "type", "source", "priority", "risk_band"]].assign(
        arm=np.where(holdout, "held_out", "treated"), assigned_at=pd.Timestamp(as_of))
    nudges = planned[~holdout].reset_index(drop=True)
    unknown = int(pd.Series(nudges["user_id"].unique(), dtype=object).map(offsets).isna().sum())
    counts = {"candidates": int(len(cands)), "kept": int(len(planned)), "nudges": int(len(nudges)),
              "held_out_nudges": int(holdout.sum()), "learners_nudged": int(nudges["user_id"].nunique()),
              "learners_held_out": int(assignments.loc[holdout, "user_id"].nunique()),
              "not_sent_by_reason": dict(sorted(why.items())), "dropped_missing_value": dict(sorted(dropped.items())),
              "send_time_utc_offset_unknown": unknown}
    return {"nudges": nudges, "assignments": assignments.reset_index(drop=True),
            "state": with_sends(state, nudges[["user_id", "type", "send_after"]]), "counts": counts}
