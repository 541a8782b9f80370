"""OULAD students as risk snapshots: who is still registered on day d of a presentation, what
was visible about them before d, and whether they withdrew.

Snapshot selection and labels read the outcome columns (``final_result``,
``date_unregistration``); ``oulad_features`` never does: it is handed ``visible_tables``, from
which they are removed, and every input it reads is cut at d. Its activity features are the
platform model's window features over a daily table built from submissions (and clicks when
given), so the same code is checked on real withdrawals; OULAD adds demographics and deadlines.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from features.oulad import presentation_start
from features.risk.features import WINDOW_FEATURES, window_features

OUTCOME_COLUMNS = {"studentInfo": ("final_result",), "studentRegistration": ("date_unregistration",)}
ORDINALS = {
    "highest_education": ("No Formal quals", "Lower Than A Level", "A Level or Equivalent", "HE Qualification",
                          "Post Graduate Qualification"),
    "age_band": ("0-35", "35-55", "55<="),
    "imd_band": ("0-10%", "10-20", "20-30%", "30-40%", "40-50%", "50-60%", "60-70%", "70-80%", "80-90%", "90-100%"),
}
PROFILE_FEATURES = ("highest_education", "age_band", "imd_band", "female", "disability", "previous_attempts",
                    "studied_credits", "registered_days_before_start")
DEADLINE_FEATURES = ("day", "assessments_due", "assessments_missed", "tmas_due", "tmas_missed",
                     "days_to_next_deadline", "mean_lateness_days", "weighted_score")
OULAD_FEATURES = WINDOW_FEATURES + PROFILE_FEATURES + DEADLINE_FEATURES
KEYS = ["code_module", "code_presentation", "id_student"]


def visible_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Return the tables without their outcome columns (what feature code may see)."""
    return {name: frame.drop(columns=list(OUTCOME_COLUMNS.get(name, ())), errors="ignore")
            for name, frame in tables.items()}


def snapshots(tables: dict[str, pd.DataFrame], days: list[int], horizon_days: int) -> pd.DataFrame:
    """Return one row per student x module presentation x day d in ``days`` (within the
    presentation) for every student registered by d and not unregistered before d, with
    ``withdraws_later`` (final result Withdrawn) and ``withdraws_within`` (unregistered in
    [d, d + horizon); null when that window runs past the presentation's end)."""
    reg = tables["studentRegistration"].merge(tables["studentInfo"][KEYS + ["final_result"]], on=KEYS, how="left")
    reg = reg.merge(tables["courses"][["code_module", "code_presentation", "module_presentation_length"]],
                    on=["code_module", "code_presentation"])
    frames = []
    for day in days:
        still = reg[(reg["module_presentation_length"] > day) & ~(reg["date_registration"] > day)
                    & ~(reg["date_unregistration"] < day)]
        unreg = still["date_unregistration"]
        within = ((unreg >= day) & (unreg < day + horizon_days)).astype(float)
        frames.append(pd.DataFrame({
            "code_module": still["code_module"].to_numpy(), "code_presentation": still["code_presentation"].to_numpy(),
            "id_student": still["id_student"].to_numpy(), "day": day,
            "withdraws_later": (still["final_result"] == "Withdrawn").astype(int).to_numpy(),
            "withdraws_within": within.where(still["module_presentation_length"] >= day + horizon_days).to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    out["user_id"] = out["id_student"].astype(str)
    out["course_id"] = out["code_module"] + "-" + out["code_presentation"]
    starts = {p: presentation_start(p).date() for p in out["code_presentation"].unique()}
    out["snapshot"] = [starts[p] + timedelta(days=int(d)) for p, d in zip(out["code_presentation"], out["day"])]
    return out


def daily_activity(visible: dict[str, pd.DataFrame], clicks: bool) -> pa.Table:
    """Return the platform model's daily activity table (one row per student x module
    presentation x calendar day) from submissions, and clicks when ``clicks``."""
    subs = visible["studentAssessment"].merge(visible["assessments"][["id_assessment", "code_module",
                                                                       "code_presentation"]], on="id_assessment")
    parts = [pd.DataFrame({"code_module": subs["code_module"], "code_presentation": subs["code_presentation"],
                           "id_student": subs["id_student"], "date": subs["date_submitted"], "events": 1,
                           "lessons_completed": 1, "score_sum": subs["score"] / 100.0,
                           "score_n": subs["score"].notna().astype(int)})]
    if clicks:
        vle = visible["studentVle"]
        parts.append(pd.DataFrame({"code_module": vle["code_module"], "code_presentation": vle["code_presentation"],
                                   "id_student": vle["id_student"], "date": vle["date"], "events": 1,
                                   "lessons_completed": 0, "score_sum": np.nan, "score_n": 0}))
    rows = pd.concat(parts, ignore_index=True).dropna(subset=["date"])
    daily = rows.groupby(KEYS + ["date"], as_index=False).agg(
        events=("events", "sum"), lessons_completed=("lessons_completed", "sum"),
        score_sum=("score_sum", "sum"), score_n=("score_n", "sum"))
    starts = {p: presentation_start(p).date() for p in daily["code_presentation"].unique()}
    return pa.table({
        "user_id": daily["id_student"].astype(str), "course_id": daily["code_module"] + "-" + daily["code_presentation"],
        "day": pa.array([starts[p] + timedelta(days=int(d)) for p, d in zip(daily["code_presentation"], daily["date"])],
                        pa.date32()),
        "events": daily["events"].astype("int64"), "lessons_completed": daily["lessons_completed"].astype("int64"),
        "milestones": np.zeros(len(daily), dtype="int64"),
        "score_sum": daily["score_sum"].where(daily["score_n"] > 0), "score_n": daily["score_n"].astype("int64")})


def _profile(info: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    out = info[KEYS].copy()
    for column, levels in ORDINALS.items():
        out[column] = info[column].map({v: float(i) for i, v in enumerate(levels)})
    out["female"] = (info["gender"] == "F").astype(float)
    out["disability"] = (info["disability"] == "Y").astype(float)
    out["previous_attempts"] = info["num_of_prev_attempts"].astype(float)
    out["studied_credits"] = info["studied_credits"].astype(float)
    return out.merge(reg[KEYS + ["date_registration"]], on=KEYS, how="left").assign(
        registered_days_before_start=lambda f: -f["date_registration"]).drop(columns=["date_registration"])


def _deadlines(visible: dict[str, pd.DataFrame], snaps: pd.DataFrame) -> pd.DataFrame:
    """Assessments due before d, those missed, days to the next deadline, and lateness and
    weighted score of what was submitted before d."""
    assessments = visible["assessments"].assign(is_tma=lambda f: (f["assessment_type"] == "TMA").astype(int))
    subs = visible["studentAssessment"].merge(assessments, on="id_assessment")
    rows = []
    for day, part in snaps.groupby("day"):
        due = assessments[assessments["date"] < day]
        done = subs[subs["date_submitted"] < day]
        per_course = due.groupby(["code_module", "code_presentation"]).agg(
            assessments_due=("id_assessment", "size"), tmas_due=("is_tma", "sum"))
        upcoming = assessments[assessments["date"] >= day].groupby(["code_module", "code_presentation"])["date"].min()
        submitted = done[done["id_assessment"].isin(due["id_assessment"])].groupby(KEYS).agg(
            submitted_due=("id_assessment", "size"), tmas_submitted=("is_tma", "sum"))
        quality = done.assign(late=done["date_submitted"] - done["date"], weighted=done["score"] * done["weight"]) \
            .groupby(KEYS).agg(mean_lateness_days=("late", "mean"), weighted=("weighted", "sum"), weight=("weight", "sum"))
        frame = part[KEYS].join(per_course, on=["code_module", "code_presentation"]) \
            .join(upcoming.rename("next_deadline"), on=["code_module", "code_presentation"]) \
            .join(submitted, on=KEYS).join(quality, on=KEYS)
        due_n, tma_n = frame["assessments_due"].fillna(0), frame["tmas_due"].fillna(0)
        rows.append(pd.DataFrame({
            **{k: frame[k] for k in KEYS}, "day": day, "assessments_due": due_n,
            "assessments_missed": due_n - frame["submitted_due"].fillna(0), "tmas_due": tma_n,
            "tmas_missed": tma_n - frame["tmas_submitted"].fillna(0), "days_to_next_deadline": frame["next_deadline"] - day,
            "mean_lateness_days": frame["mean_lateness_days"],
            "weighted_score": frame["weighted"] / frame["weight"].where(frame["weight"] > 0)}))
    return pd.concat(rows, ignore_index=True)


def oulad_features(visible: dict[str, pd.DataFrame], snaps: pd.DataFrame, clicks: bool) -> pd.DataFrame:
    """Return ``snaps`` with every ``OULAD_FEATURES`` column, from ``visible`` tables (no
    outcome columns) and what happened before each row's day only."""
    keys = ["user_id", "course_id", "snapshot"]
    out = snaps.merge(window_features(daily_activity(visible, clicks), snaps), on=keys, how="left")
    out = out.merge(_profile(visible["studentInfo"], visible["studentRegistration"]), on=KEYS, how="left")
    out = out.merge(_deadlines(visible, snaps[KEYS + ["day"]].drop_duplicates()), on=KEYS + ["day"], how="left")
    for column in OULAD_FEATURES:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    counts = [c for c in WINDOW_FEATURES if c.startswith(("events_", "active_days_", "lessons_", "milestones_"))]
    out[counts] = out[counts].fillna(0.0)  # no submission before d: nothing done, not unknown
    return out
