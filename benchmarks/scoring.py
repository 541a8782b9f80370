"""Scoring speed: scores, learner groups, the learners table and dropout risk for many learners
from Parquet, against a plain pandas read and group-by of the same input, measured in the same run.

Generates a ``phase_activity``-shaped Parquet file (``--learners`` x 4 phases, values drawn to
look like the demo's) and a risk-feature file (one snapshot row per learner), then times, each
from the files: the engage path (metrics, reference fit, phase scores, learner features, groups,
learners table, then the risk columns: calibrated probability, band, and TreeSHAP drivers for the
high band, with a model trained beforehand on 50,000 labelled rows, not timed; then nudge
planning with the demo's rules, starting from the state of a run three days before, itself not
timed) and the baseline
(``pd.read_parquet`` and a group-by mean per course x phase and per learner). The risk features'
own computation from events is not in it (it is in every daily run's ``scores`` stage timing).

    python benchmarks/scoring.py [--learners 1000000]

Last line: ``seconds=... risk_seconds=... nudge_seconds=... baseline_seconds=... ratio=... learners=... rows=...
high_band=... nudges=...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / ".data"
PHASES = ("onboarding", "foundations", "conversation", "mastery")


def generate(path: Path, learners: int, seed: int = 0) -> int:
    """Write a phase_activity-shaped table of ``learners`` x 4 phases; return its row count."""
    rng = np.random.default_rng(seed)
    n = learners * len(PHASES)
    engaged = np.repeat(rng.beta(2, 2, learners), len(PHASES))
    start = datetime(2026, 8, 3, tzinfo=timezone.utc)
    first = pd.to_datetime(start) + pd.to_timedelta(np.tile(np.arange(4) * 21, learners) + rng.uniform(0, 5, n), unit="D")
    span = rng.uniform(5, 30, n)
    active = np.maximum(1, np.round(span * engaged * rng.uniform(0.2, 0.8, n))).astype(int)
    started = rng.integers(1, 10, n)
    table = pa.table({
        "user_id": np.repeat([f"u{i:07d}" for i in range(learners)], len(PHASES)),
        "course_id": np.repeat(rng.choice(["english", "german"], learners, p=[0.7, 0.3]), len(PHASES)),
        "phase": np.tile(PHASES, learners), "phase_index": np.tile(np.arange(4, dtype=np.int16), learners),
        "level": np.full(n, "A1"), "cohort": np.repeat(rng.choice([f"2026-W{w}" for w in range(32, 36)], learners), len(PHASES)),
        "first_activity_at": first, "last_activity_at": first + pd.to_timedelta(span * 0.8, unit="D"),
        "span_days": span.round(3), "active_days": active, "sessions": active + rng.integers(0, 3, n),
        "minutes": (active * rng.uniform(1, 8, n)).round(3), "events": active * 12,
        "lessons_started": started, "lessons_completed": np.minimum(started, rng.binomial(started, 0.5 + 0.45 * engaged)),
        "completion_rate": rng.uniform(0.3, 1, n).round(4), "curriculum_share": rng.uniform(0, 1, n).round(4),
        "milestones_reached": rng.integers(0, 3, n), "responses": rng.integers(0, 8, n),
        "median_latency_s": (3 + 9 * (1 - engaged) * rng.lognormal(0, 0.3, n)).round(3),
        "retry_after_low_share": np.where(rng.random(n) < 0.4, rng.uniform(0, 1, n), np.nan),
        "longest_streak_days": np.maximum(1, active // 2), "longest_gap_days": rng.integers(0, 15, n),
        "returns_after_gap": rng.integers(0, 3, n), "days_since_last_activity": rng.uniform(0, 40, n).round(3),
        "audio_ok_responses": rng.integers(0, 8, n), "answer_effort_ratio": (0.55 + 0.55 * engaged + rng.normal(0, 0.1, n)).round(4),
        "f0_range_st_mean": rng.normal(4, 1.5, n).round(4), "loudness_mean_db_rel_mean": rng.normal(0, 2, n).round(4),
        "f0_range_st_rel_mean": rng.normal(0, 1, n).round(4), "pause_ratio_rel_mean": rng.normal(0, 0.05, n).round(4),
    })
    pq.write_table(table, path, row_group_size=1 << 20)
    return n


def risk_frame(path: Path, activity_path: Path, seed: int = 1) -> None:
    """Write one snapshot row per learner of the activity file with every risk feature, and a
    ``label`` (about one in five) that depends on idleness and recent activity."""
    from features.risk.features import FEATURES

    rng = np.random.default_rng(seed)
    activity = pq.read_table(activity_path, columns=["user_id", "course_id", "phase_index"])
    keys = activity.filter(pa.compute.equal(activity["phase_index"], 0)).select(["user_id", "course_id"])
    learners = keys.num_rows
    columns = {f: rng.gamma(2.0, 3.0, learners) for f in FEATURES}
    columns["days_since_last_activity"] = rng.exponential(6, learners)
    risk = 1 / (1 + np.exp(-(0.35 * columns["days_since_last_activity"] - 0.2 * columns["events_7d"] - 2.0)))
    pq.write_table(pa.table({"user_id": keys["user_id"], "course_id": keys["course_id"], **columns,
                             "label": (rng.random(learners) < risk).astype(int)}), path)


def risk_model(path: Path):
    """A model trained on the first 50,000 rows (trees on 60%, calibrated on the other 40%)."""
    from features.risk.features import FEATURES
    from features.risk.model import fit_model
    from features.risk.options import RiskOptions

    rows = pq.read_table(path).slice(0, 50_000).to_pandas()
    cut = int(len(rows) * 0.6)
    return fit_model(rows.iloc[:cut], rows.iloc[cut:], list(FEATURES), RiskOptions(), 0, "benchmark")


def risk_path(path: Path, learners_table, model) -> dict:
    """The daily run's risk step on the learners table; return counts."""
    from features.risk.apply import with_risk

    frame = pq.read_table(path).to_pandas()
    out = with_risk(learners_table, frame, model, "benchmark", None, None)
    return {"scored": int((out["risk_status"] == "scored").sum()), "high_band": int((out["risk_band"] == "high").sum()),
            "table": out}


def nudge_path(learners_table, activity_path: Path, scores, state=None) -> dict:
    """The daily run's nudge planning with the demo's rules, from ``state`` (empty when None);
    return counts and the next state."""
    from features.nudges.features import FEATURES, nudge_features
    from features.nudges.options import NudgeOptions
    from features.nudges.plan import nudge_run
    from features.nudges.rules import load_rules
    from features.nudges.state import empty_state
    from features.simulation.demo import DEMO_NUDGES

    as_of = datetime(2026, 10, 25, 12, tzinfo=timezone.utc)
    activity = pq.read_table(activity_path)
    features = nudge_features(learners_table, activity, scores, pd.DataFrame(columns=["user_id", "course_id",
                                                                                      "submitted_at"]), as_of)
    if state is not None:
        as_of += timedelta(days=3)
    result = nudge_run(features, load_rules(DEMO_NUDGES, set(FEATURES)), empty_state() if state is None else state,
                       pd.DataFrame(columns=["user_id", "type", "ts"]), set(), {}, as_of.date(), as_of, NudgeOptions())
    return {"nudges": result["counts"]["nudges"], "candidates": result["counts"]["candidates"], "state": result["state"]}


def engage_path(path: Path) -> dict:
    """Everything a run does after phase activity, from the Parquet file; return counts."""
    from features.groups import fit_groups, learner_features
    from features.learners import learners_table
    from features.scoring.components import ScoringOptions, metrics_table
    from features.scoring.reference import fit_reference
    from features.scoring.scores import phase_scores

    activity = pq.read_table(path)
    metrics = metrics_table(activity).to_pandas()
    scores = phase_scores(metrics, fit_reference(metrics), ScoringOptions(), "score-1")
    features = learner_features(activity)
    assignment, groups, _ = fit_groups(features, None, date(2026, 10, 25))
    keyed = features[["user_id", "course_id"]].assign(group_id=assignment.to_numpy())
    learners = learners_table(activity.select(["user_id", "course_id", "phase", "phase_index", "level",
                                               "last_activity_at", "days_since_last_activity"]).to_pandas(), scores, keyed)
    return {"scores": len(scores), "groups": len(groups), "learners": len(learners), "table": learners,
            "score_table": scores}


def baseline(path: Path) -> int:
    """pandas: read the same file, then a mean per course x phase and per learner."""
    frame = pd.read_parquet(path)
    numeric = frame.select_dtypes("number").columns
    frame.groupby(["course_id", "phase"])[numeric].mean()
    return len(frame.groupby("user_id")[numeric].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=1_000_000)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"phase-activity-{args.learners}.parquet"
    rows = generate(path, args.learners) if not path.exists() else pq.read_metadata(path).num_rows
    features = DATA / f"risk-features-{args.learners}.parquet"
    if not features.exists():
        risk_frame(features, path)
    model = risk_model(features)
    start = time.perf_counter()
    baseline(path)
    base = time.perf_counter() - start
    start = time.perf_counter()
    counts = engage_path(path)
    scored = time.perf_counter()
    risk = risk_path(features, counts.pop("table"), model)
    paused = time.perf_counter()
    learners, scores = risk.pop("table"), counts.pop("score_table")
    yesterday = nudge_path(learners, path, scores)["state"]  # the state a daily run starts from, not timed
    nudging = time.perf_counter()
    nudges = nudge_path(learners, path, scores, yesterday)
    nudges.pop("state")
    end = time.perf_counter()
    seconds, risk_seconds, nudge_seconds = end - start - (nudging - paused), paused - scored, end - nudging
    print({**counts, **risk, **nudges})
    print(f"seconds={seconds:.1f} risk_seconds={risk_seconds:.1f} nudge_seconds={nudge_seconds:.1f} "
          f"baseline_seconds={base:.1f} ratio={base / seconds:.3f} learners={args.learners} rows={rows} "
          f"groups={counts['groups']} high_band={risk['high_band']} nudges={nudges['nudges']}")


if __name__ == "__main__":
    main()
