"""Does the dropout-risk model see the simulator's true dropouts coming, on weeks after those it
was trained and calibrated on?

1. Simulate a platform (``--learners`` over ``--weeks``, sign-ups spread over
   ``--signup-spread-days``; the demo's shape by default, another seed), run the pipeline (audio
   on unless ``--no-audio``), then ``train_risk`` as the weekly deployment does.
2. Rebuild the labelled snapshots the flow trained on and take those of the evaluation slice
   (after the training and calibration slices and their horizon gaps). Score them with the
   trained model and compare with the simulator's truth: the learner's latent dropout time is
   before d + H (H = 14 days). Report the AUC with a 95% bootstrap interval (learners
   resampled), the Brier score, and the reliability curve (mean predicted vs true rate per
   decile of predicted risk), beside the logistic-regression baseline fitted on the same
   training slice.

    python benchmarks/risk_validity.py [--learners 500] [--seed 11] [--weeks 20] [--workdir DIR]

Last line: ``auc_truth=... auc_truth_ci_low=... auc_truth_ci_high=... baseline_auc_truth=... ratio=...``
(ratio: the model's AUC over the baseline's).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def platform_run(folder: Path, args) -> str:
    """Simulate (once) and run the pipeline; return the config path."""
    from features.simulation.publish import DEMO_CURRICULUM, simulate_platform
    from flows.engagement import run_pipeline

    if not (folder / "sim" / "truth" / "simulation.json").exists():
        simulate_platform(folder / "sim", args.learners, args.seed, args.weeks, bucket=None,
                          signup_spread_days=args.signup_spread_days, render_audio=not args.no_audio)
    config = {"inputs": {"telemetry": [str(folder / "sim" / "telemetry")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(folder / "out")},
              "audio": {"enabled": not args.no_audio, "fetch": {"allowed_prefixes": [str(folder / "sim" / "audio") + "/"]}},
              "quality": {"max_quarantine_share": 0.1}}
    path = folder / "engage.yaml"
    if not path.exists() or yaml.safe_load(path.read_text()) != config:
        path.write_text(yaml.safe_dump(config))
        run_pipeline(str(path))
    return str(path)


def snapshot_rows(config_path: str) -> pd.DataFrame:
    """The labelled snapshots with features, built as ``train_risk`` builds them."""
    from features.curriculum import load_curriculum
    from features.placement import place_events
    from features.registry import Registry
    from features.risk.frames import training_frame
    from features.scoring.components import metrics_table
    from features.scoring.reference import reference_or_fitted
    from features.select import select_events
    from features.sessions import assign_sessions
    from flows.config import load_config
    from outputs.manifest import read_manifest
    from outputs.tables import latest_partition, read_partition

    config = load_config(config_path)
    root = config.output.root
    run_date = pd.Timestamp(latest_partition(root, "events").name.split("=", 1)[1]).date()
    as_of = pd.Timestamp(read_manifest(root, run_date)["as_of"]).to_pydatetime()
    curriculum = load_curriculum(config.inputs.curriculum)
    selected, _ = select_events(read_partition(root, "events"), config.select, as_of)
    timeline = assign_sessions(place_events(selected, curriculum), config.sessions)
    reference = reference_or_fitted(Registry(config.registry_root),
                                    metrics_table(read_partition(root, "phase_activity")).to_pandas())
    return training_frame(timeline, read_partition(root, "responses"), curriculum, reference, as_of, config.risk,
                          config.activity, config.scoring)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--signup-spread-days", type=int, default=98, dest="signup_spread_days")
    parser.add_argument("--no-audio", action="store_true", dest="no_audio")
    parser.add_argument("--workdir", help="keep the simulation and run here (reused when present)")
    args = parser.parse_args()
    from flows.prefect_env import apply_prefect_defaults

    apply_prefect_defaults()
    from features.registry import Registry
    from features.risk.evaluation import reliability
    from features.risk.features import midnight
    from features.risk.model import fit_baseline, read_model
    from features.stats import bootstrap_ci
    from flows.config import load_config
    from flows.train_risk import run_train_risk
    from sklearn.metrics import roc_auc_score

    folder = Path(args.workdir or tempfile.mkdtemp()) / f"seed{args.seed}-{args.learners}-{args.weeks}w"
    config = platform_run(folder, args)
    result = run_train_risk(config)
    report = result["report"]
    model = read_model(Registry(load_config(config).registry_root).load("risk-model", result["version"])
                       .path("model.joblib"))
    frame = snapshot_rows(config)
    truth = pd.read_parquet(folder / "sim" / "truth" / "learners.parquet")[["user_id", "course_id", "dropout_at"]]
    frame = frame.merge(truth, on=["user_id", "course_id"], how="left")
    start = pd.Timestamp(report["slices"]["evaluation"]["days"][0]).date()
    train_end = pd.Timestamp(report["slices"]["training"]["days"][1]).date()
    test = frame[frame["snapshot"] >= start].copy()
    horizon_end = [midnight(d) + timedelta(days=model.horizon_days) for d in test["snapshot"]]
    test["truth"] = (test["dropout_at"].notna() & (test["dropout_at"] < pd.Series(horizon_end, index=test.index))).astype(int)
    test["p"] = model.predict(test)
    train = frame[(frame["snapshot"] <= train_end) & frame["label"].notna()].assign(label=lambda f: f["label"].astype(int))
    baseline = fit_baseline(train, model.features).predict_proba(test[model.features].to_numpy(dtype=float))[:, 1]
    y = test["truth"].to_numpy()
    auc = roc_auc_score(y, test["p"])
    low, high = bootstrap_ci(roc_auc_score, y, test["p"].to_numpy(), n=500, groups=test["user_id"])
    base_auc = roc_auc_score(y, baseline)
    out = {"evaluation_days": report["slices"]["evaluation"]["days"], "snapshots": len(test),
           "true_dropouts": int(y.sum()), "auc_truth": round(auc, 4), "auc_truth_ci": [round(low, 4), round(high, 4)],
           "brier_truth": round(float(np.mean((test["p"] - y) ** 2)), 4),
           "auc_observed_label": report["evaluation"]["auc"], "ece_observed_label": report["evaluation"]["ece"],
           "baseline_auc_truth": round(base_auc, 4), "auc_spread_refits": round(report["auc_spread"], 4),
           "promoted": result["promoted"], "reliability_truth": reliability(y, test["p"].to_numpy()),
           "reliability_observed_label": report["reliability"]}
    print(json.dumps(out, indent=1, default=str))
    print(f"auc_truth={auc:.4f} auc_truth_ci_low={low:.4f} auc_truth_ci_high={high:.4f} "
          f"baseline_auc_truth={base_auc:.4f} ratio={auc / base_auc:.3f} brier_truth={out['brier_truth']} "
          f"promoted={result['promoted']}")


if __name__ == "__main__":
    main()
