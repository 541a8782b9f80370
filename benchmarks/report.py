"""Report size and speed: the demo's report, and one built from the tables of 1,000,000 learners.

- Demo: the latest report under ``--demo-root`` (run ``make demo`` first): its size, and its load
  time in headless Chromium (navigation to the load event) against a blank page's in the same
  browser.
- Scale: tables shaped like a run's (phase_scores, learners with risk and drivers, groups,
  phase_activity's voice columns, nudges, assignments, effects, learner attributes, a registered
  risk model) for ``--learners`` learners are written as a run date's partitions; the report is
  built from them as a run builds it (``outputs.report.build``), against a plain read of the same
  columns (the baseline), then opened in Chromium too.

    python benchmarks/report.py [--demo-root .demo/out] [--learners 1000000]

Last line: ``demo_mb=... demo_load_s=... blank_load_s=... million_mb=... million_load_s=...
build_s=... read_baseline_s=... ratio=... learners=...`` (ratio = build / baseline).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHASES = ("onboarding", "foundations", "conversation", "mastery")
RUN_DATE = date(2026, 12, 20)


def _write(root: Path, table: str, frame: pd.DataFrame) -> None:
    from outputs.tables import partition_dir

    folder = partition_dir(root, table, RUN_DATE)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-0.parquet", compression="zstd")


def generate(root: Path, learners: int, seed: int = 0) -> dict:
    """Write a run date's tables for ``learners`` learners under ``root`` and register a risk
    model; return the run facts a manifest would give."""
    from features.registry import Registry
    from features.risk.model import RISK_KIND
    from features.scoring.components import COMPONENT_NAMES

    rng = np.random.default_rng(seed)
    users = np.array([f"u{i:07d}" for i in range(learners)])
    course = rng.choice(["english", "german"], learners, p=[0.7, 0.3])
    reached = np.minimum(rng.geometric(0.45, learners) - 1, 3)
    engaged = rng.beta(2, 2, learners)
    rows = np.repeat(np.arange(learners), reached + 1)
    index = np.concatenate([np.arange(r + 1) for r in reached]).astype(np.int16)
    n = len(rows)
    score = np.clip(100 * engaged[rows] + rng.normal(0, 10, n) - 3 * index, 0, 100).round(1)
    scores = pd.DataFrame({"user_id": users[rows], "course_id": course[rows], "phase": np.array(PHASES)[index],
                           "phase_index": index, "cohort": rng.choice([f"2026-W{w}" for w in range(32, 46)], n),
                           "engagement_score": score, "band": np.where(score < 40, "low", np.where(score < 70, "medium", "high")),
                           **{c: np.clip(score + rng.normal(0, 15, n), 0, 100).round(1) for c in COMPONENT_NAMES},
                           "coverage": rng.uniform(0.6, 1, n).round(3)})
    _write(root, "phase_scores", scores)
    prob = np.clip(1 - engaged + rng.normal(0, 0.1, learners), 0, 1).round(4)
    band = np.where(prob > 0.6, "high", np.where(prob > 0.3, "medium", "low"))
    drivers = json.dumps([{"feature": "days_since_last_activity", "value": 21.0, "contribution": 1.9},
                          {"feature": "events_7d", "value": 0.0, "contribution": 0.6}])
    latest = scores.groupby("user_id", sort=True)["engagement_score"].last().to_numpy()
    _write(root, "learners", pd.DataFrame({
        "user_id": users, "course_id": course, "current_phase": np.array(PHASES)[reached],
        "current_phase_index": reached, "latest_score": latest, "group_id": rng.integers(0, 4, learners),
        "days_since_last_activity": rng.exponential(10, learners).round(3), "risk_probability": prob,
        "risk_horizon_days": 14, "risk_band": band, "risk_drivers": np.where(band == "high", drivers, None),
        "risk_status": "scored"}))
    _write(root, "groups", pd.DataFrame({"group_id": range(4), "name": [f"group {g}" for g in range(4)],
                                         "profile": "synthetic", "size": np.bincount(rng.integers(0, 4, learners), minlength=4),
                                         "mean_score": [30.0, 45.0, 55.0, 70.0]}))
    _write(root, "phase_activity", pd.DataFrame({
        "course_id": scores["course_id"], "phase_index": index,
        "loudness_mean_db_rel_mean": rng.normal(0, 2, n) - 0.3 * index,
        "pause_ratio_rel_mean": rng.normal(0, 0.05, n) + 0.01 * index,
        "speaking_rate_syl_per_s_rel_mean": rng.normal(0, 0.3, n), "valence_mean": rng.normal(0, 0.2, n)}))
    picked = rng.random(learners) < 0.3
    assignments = pd.DataFrame({"user_id": users[picked], "course_id": course[picked],
                                "type": rng.choice(["comeback", "streak", "speaking_drill"], picked.sum()),
                                "arm": np.where(rng.random(picked.sum()) < 0.1, "held_out", "treated")})
    _write(root, "nudge_assignments", assignments)
    treated = assignments[assignments["arm"] == "treated"]
    _write(root, "nudges", treated.drop(columns="arm").assign(channel=rng.choice(["push", "email"], len(treated))))
    _write(root, "nudge_effects", pd.DataFrame([
        {"scope": "overall", "type": None, "risk_band": None, "treated": 90000, "treated_returned": 30000,
         "treated_rate": 0.333, "held_out": 10000, "held_out_returned": 3000, "held_out_rate": 0.3, "uplift": 0.033,
         "ci_low": 0.024, "ci_high": 0.043}]))
    _write(root, "learner_attributes", pd.DataFrame({
        "user_id": users, "age_band": rng.choice(["13-17", "18-24", "25-34", "35-54", "55+"], learners),
        "gender": rng.choice(["f", "m"], learners), "first_language": rng.choice(["es", "zh", "de"], learners)}))
    reliability = [{"decile": d + 1, "n": 100, "predicted": (d + 0.5) / 10, "observed": (d + 0.5) / 10 + 0.01}
                   for d in range(10)]
    metrics = {"evaluation": {"auc": 0.84, "pr_auc": 0.6, "brier": 0.1, "ece": 0.03, "mcc": 0.5, "n": 1000,
                              "positives": 250}, "reliability": reliability}
    entry = Registry(root / "_registry").save(RISK_KIND, {"model.joblib": b"synthetic"}, {"metrics": metrics},
                                              promote=True)
    return {"run_date": RUN_DATE.isoformat(), "as_of": "2026-12-20T23:00:00+00:00",
            "models": {"risk_model": {"version": entry.version, "status": "used"}, "emotion": {}},
            "counts": {"ingest": {"input_records": 60 * learners, "quarantined": learners,
                                  "quarantined_by_reason": {"invalid_json": learners // 2, "wrong_type": learners // 2}},
                       "responses": {"responses": 10 * learners, "unmapped": learners // 100},
                       "audio": {"by_status": {"ok": 9 * learners, "silent": learners}, "emotion_by_status": {}}}}


def baseline(root: Path) -> float:
    """Seconds to read the columns the report reads, with nothing computed."""
    from outputs.report.load import COLUMNS

    started = time.perf_counter()
    for table in ("phase_scores", "learners", "groups", "nudges", "nudge_assignments"):
        pq.read_table(root / table, columns=COLUMNS[table]).to_pandas()
    for table in ("phase_activity", "nudge_effects", "learner_attributes"):
        pq.read_table(root / table).to_pandas()
    return time.perf_counter() - started


def main() -> None:
    from outputs.report.build import build_report, write_report_files
    from outputs.tables import latest_partition
    from tests.browser import open_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-root", default=str(ROOT / ".demo" / "out"))
    parser.add_argument("--learners", type=int, default=1_000_000)
    args = parser.parse_args()
    try:
        demo = latest_partition(args.demo_root, "report") / "insights.html"
    except Exception as exc:
        sys.exit(f"no demo report under {args.demo_root} ({exc}): run `make demo` first")
    with tempfile.TemporaryDirectory() as tmp:
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!doctype html><html><head><link rel='icon' href='data:,'></head><body>.</body></html>")
        blank_s = min(open_report(blank)["load_s"] for _ in range(3))
        demo_view = min((open_report(demo) for _ in range(3)), key=lambda v: v["load_s"])
        print(f"demo report {demo}: {demo.stat().st_size / 1e6:.3f} MB, loads in {demo_view['load_s']:.3f} s "
              f"(blank page {blank_s:.3f} s), {demo_view['images']['total']} images")
        root = Path(tmp) / "out"
        started = time.perf_counter()
        facts = generate(root, args.learners)
        print(f"generated tables for {args.learners} learners in {time.perf_counter() - started:.1f} s")
        read_s = baseline(root)
        started = time.perf_counter()
        report = build_report(root, root / "_registry", facts)
        files = write_report_files(report, Path(tmp) / "report")
        build_s = time.perf_counter() - started
        big = Path(files["html"])
        big_view = open_report(big)
        print(f"{args.learners} learners: report {big.stat().st_size / 1e6:.3f} MB built in {build_s:.1f} s "
              f"(plain read {read_s:.1f} s), loads in {big_view['load_s']:.3f} s; sections "
              f"{ {k: v['plots'] for k, v in big_view['sections'].items()} }")
        print(f"demo_mb={demo.stat().st_size / 1e6:.3f} demo_load_s={demo_view['load_s']:.3f} blank_load_s={blank_s:.3f} "
              f"million_mb={big.stat().st_size / 1e6:.3f} million_load_s={big_view['load_s']:.3f} build_s={build_s:.1f} "
              f"read_baseline_s={read_s:.1f} ratio={build_s / read_s:.2f} learners={args.learners}")


if __name__ == "__main__":
    main()
