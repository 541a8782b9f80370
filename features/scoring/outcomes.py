"""Does the engagement score tell who stays? A check against real withdrawals (OULAD).

For each phase k of a presentation's modules, at the end of phase k (the k-th TMA's deadline) and
using only events before it: every student still registered gets their phase-k engagement score
(0 when they did nothing in phase k); the AUC says how well that score ranks the students who stay
registered through phase k+1 above those who withdraw during it. The scoring reference is fitted
on the training presentations only (their phase-k rows at the same cut-offs), never on the test.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.activity import ActivityRules, phase_activity
from features.curriculum import load_curriculum
from features.ingest import IngestOptions, finalize_events, stage_file
from features.oulad import LEARNER_EVENT_TYPES, import_oulad, presentation_start
from features.placement import place_events
from features.responses import build_responses
from features.scoring.components import ScoringOptions, metrics_table
from features.scoring.reference import fit_reference
from features.scoring.scores import phase_scores
from features.sessions import assign_sessions, build_sessions
from features.stats import bootstrap_ci


def auc(labels, scores) -> float:
    """Return the ROC AUC of ``scores`` for binary ``labels`` (NaN when one class is absent)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def phase_metrics(timeline: pa.Table, course: str, level: str, phase: str, cutoff, rules: ActivityRules,
                  phase_lessons: pa.Table) -> pd.DataFrame:
    """Return the metrics of one module x presentation's phase-``phase`` rows as of ``cutoff``
    (events before it only)."""
    mask = pc.and_(pc.and_(pc.equal(timeline["course_id"], course), pc.equal(timeline["level"], level)),
                   pc.less(timeline["ts"], pa.scalar(cutoff, timeline.schema.field("ts").type)))
    events = timeline.filter(mask)
    if events.num_rows == 0:
        return pd.DataFrame()
    activity = phase_activity(events, build_sessions(events), build_responses(events, {course: "en"}), cutoff, rules,
                              phase_lessons)
    metrics = metrics_table(activity).to_pandas()
    return metrics[metrics["phase"] == phase]


def phase_rows(oulad_dir: str | Path, presentations: tuple[str, ...]) -> list[dict]:
    """Return, per module x presentation x phase k (that has a phase k+1), the metrics of its
    phase-k rows at the end of phase k and the students still registered then, each with
    ``stays`` (1 when still registered at the end of phase k+1)."""
    rules = ActivityRules(learner_event_types=LEARNER_EVENT_TYPES)
    with tempfile.TemporaryDirectory() as scratch:
        imported = import_oulad(oulad_dir, scratch, list(presentations))
        staged = [stage_file(p, p.name, i, Path(scratch) / "staged", IngestOptions())
                  for i, p in enumerate(imported.telemetry)]
        finalize_events(staged, Path(scratch) / "events.parquet", Path(scratch) / "q.parquet", IngestOptions())
        events = pq.read_table(Path(scratch) / "events.parquet")
        curriculum = load_curriculum(imported.curriculum)
        outcomes = pd.read_parquet(imported.outcomes)
        ends = pd.read_parquet(imported.phase_ends)
    timeline = assign_sessions(place_events(events, curriculum))
    phase_lessons = curriculum.lessons_per_phase()
    rows = []
    for (course, level), phases in ends.groupby(["course_id", "level"]):
        days = phases.sort_values("end_day")["end_day"].tolist()
        who = outcomes[(outcomes["course_id"] == course) & (outcomes["level"] == level)]
        for k, end in enumerate(days[:-1], start=1):
            cutoff = presentation_start(level) + timedelta(days=int(end) + 1)
            still = who[(who["date_registration"] <= end) & ~(who["date_unregistration"] <= end)]
            rows.append({"course_id": course, "level": level, "k": k,
                         "metrics": phase_metrics(timeline, course, level, f"p{k}", cutoff, rules, phase_lessons),
                         "students": pd.DataFrame({"user_id": still["user_id"].to_numpy(),
                                                   "stays": (~(still["date_unregistration"] <= days[k])).to_numpy().astype(int)})})
    return rows


def scored(rows: list[dict], reference: pd.DataFrame, options: ScoringOptions) -> pd.DataFrame:
    """Return every eligible student of ``rows`` with k, ``stays``, the score (0 without phase-k
    activity) and its components."""
    frames = []
    for r in rows:
        scores = phase_scores(r["metrics"], reference, options, "check") if len(r["metrics"]) else \
            pd.DataFrame(columns=["user_id", "engagement_score"])
        frame = r["students"].merge(scores.drop(columns=["course_id", "phase"], errors="ignore"), on="user_id", how="left")
        frames.append(frame.assign(k=r["k"], course_id=r["course_id"], level=r["level"]))
    out = pd.concat(frames, ignore_index=True)
    out["engagement_score"] = out["engagement_score"].fillna(0.0)
    return out


def evaluate_engagement(oulad_dir: str | Path, train: tuple[str, ...] = ("2013B", "2013J"),
                        test: tuple[str, ...] = ("2014B",), options: ScoringOptions = ScoringOptions(),
                        boot: int = 1000, seed: int = 0) -> dict:
    """Return per phase k of the test presentations: students, withdrawals, AUC with its 95%
    bootstrap interval (students resampled), and the AUCs as ``auc_phase<k>``. The reference
    is fitted on the training presentations' rows at the same cut-offs."""
    train_rows, test_rows = phase_rows(oulad_dir, train), phase_rows(oulad_dir, test)
    reference = fit_reference(pd.concat([r["metrics"] for r in train_rows], ignore_index=True))
    frame = scored(test_rows, reference, options)
    result = {"train": list(train), "test": list(test), "weights": dict(options.weights), "phases": {}}
    for k, part in frame.groupby("k"):
        value = auc(part["stays"], part["engagement_score"])
        lo, hi = bootstrap_ci(auc, part["stays"].to_numpy(), part["engagement_score"].to_numpy(), n=boot, seed=seed)
        result["phases"][int(k)] = {"students": len(part), "withdrew": int((part["stays"] == 0).sum()),
                                    "auc": round(value, 4), "auc_ci95": [round(lo, 4), round(hi, 4)]}
        result[f"auc_phase{k}"] = round(value, 4)
    return result
