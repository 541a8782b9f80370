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
import math
from collections import Counter
from datetime import datetime, timedelta, timezone

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


def candidates(features: pd.DataFrame, rules: list[NudgeRule]) -> tuple[pd.DataFrame, Counter]:
    """Return (every rule x learner whose condition holds, with the rule's texts filled with the
    learner's own numbers; counts of matches dropped because a text field had no value)."""
    rows, dropped = [], Counter()
    for rule in rules:
        matched = features[features.eval(rule.when, engine="python").fillna(False).astype(bool)]
        needed = sorted(rule.fields() - {"user_id", "course_id"})
        complete = matched[needed].notna().all(axis=1) if needed else pd.Series(True, index=matched.index)
        dropped[rule.id] += int((~complete).sum())
        for record in matched[complete].to_dict("records"):
            rows.append({"user_id": record["user_id"], "course_id": record["course_id"], "source": rule.id,
                         "type": rule.type, "channel": rule.channel, "prior": rule.prior,
                         "expires_hours": rule.expires_hours, "risk_probability": record.get("risk_probability"),
                         "risk_band": record.get("risk_band"),
                         **{t: getattr(rule, t).format(**record) for t in TEXTS}})
    columns = ["user_id", "course_id", "source", "type", "channel", "prior", "expires_hours", "risk_probability",
               "risk_band", *TEXTS]
    return pd.DataFrame(rows, columns=columns), +dropped


def rank(cands: pd.DataFrame, uplift: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Return the candidates with ``expected_benefit``, best first per learner."""
    measured = [uplift.get((t, b)) for t, b in zip(cands["type"], cands["risk_band"].fillna("unscored"))]
    base = np.array([p if m is None else m for p, m in zip(cands["prior"], measured)], dtype=float)
    risk = pd.to_numeric(cands["risk_probability"], errors="coerce").fillna(1.0).to_numpy()
    out = cands.assign(expected_benefit=np.round(base * risk, 6))
    return out.sort_values(["user_id", "expected_benefit", "source"], ascending=[True, False, True], kind="stable")


def apply_limits(ranked: pd.DataFrame, state: pd.DataFrame, opted_out: set[str], as_of: datetime,
                 options: NudgeOptions) -> tuple[pd.DataFrame, Counter]:
    """Return (the candidates kept, with ``priority`` 1..N per learner; why the others were
    not: opted_out, suppressed, cooldown, type_cap, weekly_cap, same_type, run_cap)."""
    by_key = {(r["user_id"], r["type"]): r for r in state.to_dict("records")}
    week = Counter()
    for r in by_key.values():
        week[r["user_id"]] += len(r["sends"])
    cooldown = timedelta(hours=options.cooldown_hours)
    kept, why = [], Counter()
    for user, group in ranked.groupby("user_id", sort=True):
        if user in opted_out:
            why["opted_out"] += len(group)
            continue
        taken, types = 0, set()
        for row in group.to_dict("records"):
            past = by_key.get((user, row["type"]))
            reason = None
            if past is not None and past["suppressed"]:
                reason = "suppressed"
            elif past is not None and pd.notna(past["last_sent_at"]) and past["last_sent_at"] + cooldown > as_of:
                reason = "cooldown"
            elif past is not None and len(past["sends"]) >= options.max_per_type_per_week:
                reason = "type_cap"
            elif week[user] + taken >= options.max_per_learner_per_week:
                reason = "weekly_cap"
            elif row["type"] in types:
                reason = "same_type"
            elif taken >= options.max_per_learner:
                reason = "run_cap"
            if reason:
                why[reason] += 1
                continue
            taken += 1
            types.add(row["type"])
            kept.append({**row, "priority": taken})
    return pd.DataFrame(kept, columns=[*ranked.columns, "priority"]), why


def send_after(as_of: datetime, offset_min, options: NudgeOptions) -> datetime:
    """Return the earliest send time at or after ``as_of`` outside the quiet hours in the
    learner's local time (UTC when ``offset_min`` is unknown)."""
    offset = timedelta(minutes=0 if offset_min is None or (isinstance(offset_min, float) and math.isnan(offset_min))
                       else int(offset_min))
    local = as_of + offset
    start, end = options.quiet_start_hour, options.quiet_end_hour
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return as_of
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake - offset


def plan(kept: pd.DataFrame, offsets: dict[str, float], run_date, as_of: datetime,
         options: NudgeOptions) -> pd.DataFrame:
    """Return the nudges (``NUDGE_COLUMNS``) of the kept candidates, each with its id,
    ``send_after`` outside quiet hours and ``expires_at``."""
    if not len(kept):
        return pd.DataFrame(columns=list(NUDGE_COLUMNS))
    out = kept.copy()
    out["nudge_id"] = [nudge_id(run_date, u, s) for u, s in zip(out["user_id"], out["source"])]
    out["send_after"] = [send_after(as_of, offsets.get(u), options) for u in out["user_id"]]
    out["expires_at"] = [s + timedelta(hours=h) for s, h in zip(out["send_after"], out["expires_hours"])]
    for column in ("send_after", "expires_at"):
        out[column] = pd.to_datetime(out[column], utc=True)
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
    unknown = sum(1 for u in nudges["user_id"].unique() if offsets.get(u) is None or pd.isna(offsets.get(u)))
    counts = {"candidates": int(len(cands)), "kept": int(len(planned)), "nudges": int(len(nudges)),
              "held_out_nudges": int(holdout.sum()), "learners_nudged": int(nudges["user_id"].nunique()),
              "learners_held_out": int(assignments.loc[holdout, "user_id"].nunique()),
              "not_sent_by_reason": dict(sorted(why.items())), "dropped_missing_value": dict(sorted(dropped.items())),
              "send_time_utc_offset_unknown": unknown}
    return {"nudges": nudges, "assignments": assignments.reset_index(drop=True),
            "state": with_sends(state, nudges[["user_id", "type", "send_after"]]), "counts": counts}
