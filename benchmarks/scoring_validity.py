"""Does the engagement score follow the simulator's latent engagement on a platform it was not
tuned on? Weights and band cut-offs are chosen on one seed, then checked on another.

1. Simulate seed ``--fit-seed`` (default 7), run the pipeline (audio on), and choose weights:
   non-negative least squares of the latent engagement's ranks on the component scores (a
   missing component counts as the row's mean of the others), normalised to sum 1 and rounded to
   0.05; band cut-offs at the 33rd and 67th percentile of the scores, rounded.
2. Simulate seed ``--eval-seed`` (default 11), run the pipeline with those weights, and report
   the Spearman correlation of ``engagement_score`` with the latent engagement (truth
   ``learner_phase``) over learner x phase rows with at least 3 analysable answers, with a 95%
   bootstrap interval (learners resampled); the same with the voice components left out (audio
   off), and per component.

    python benchmarks/scoring_validity.py [--learners 500] [--fit-seed 7] [--eval-seed 11]

Last line: ``spearman=... spearman_ci_low=... spearman_audio_off=... <component>=...``.
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_platform(folder: Path, learners: int, seed: int, scoring: dict | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate, run the pipeline on local files; return (phase_scores joined with
    phase_activity's audio count, truth learner_phase)."""
    from features.simulation.publish import DEMO_CURRICULUM, simulate_platform
    from flows.engagement import run_pipeline

    if not (folder / "sim" / "truth" / "simulation.json").exists():
        simulate_platform(folder / "sim", learners, seed, 12, bucket=None)
    config = {"inputs": {"telemetry": [str(folder / "sim" / "telemetry")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(folder / "out")},
              "audio": {"fetch": {"allowed_prefixes": [str(folder / "sim" / "audio") + "/"]}},
              "quality": {"max_quarantine_share": 0.1}}
    if scoring:
        config["scoring"] = scoring
    if not (folder / "engage.yaml").exists() or yaml.safe_load((folder / "engage.yaml").read_text()) != config:
        (folder / "engage.yaml").write_text(yaml.safe_dump(config))
        run_pipeline(str(folder / "engage.yaml"))
    scores = pd.read_parquet(glob.glob(str(folder / "out" / "phase_scores" / "*"))[0])
    activity = pd.read_parquet(glob.glob(str(folder / "out" / "phase_activity" / "*"))[0])
    truth = pd.read_parquet(folder / "sim" / "truth" / "learner_phase.parquet")[
        ["user_id", "course_id", "phase", "engagement"]]
    rows = scores.merge(activity[["user_id", "course_id", "phase", "audio_ok_responses"]],
                        on=["user_id", "course_id", "phase"]).merge(truth, on=["user_id", "course_id", "phase"])
    return rows[rows["audio_ok_responses"] >= 3], truth


def choose(rows: pd.DataFrame) -> dict:
    """Return the weights and band cut-offs chosen on ``rows`` (see the module docstring)."""
    from scipy.optimize import nnls

    from features.scoring.components import COMPONENT_NAMES

    names = [c for c in COMPONENT_NAMES if rows[c].notna().any()]
    X = rows[names].to_numpy(dtype=float)
    X = np.where(np.isnan(X), np.nanmean(X, axis=1, keepdims=True), X)
    y = rows["engagement"].rank(pct=True).to_numpy() * 100
    w, _ = nnls(np.column_stack([X, np.ones(len(X))]), y)
    w = w[:-1] / w[:-1].sum()
    weights = {c: 0.0 for c in COMPONENT_NAMES} | {c: round(float(np.round(v / 0.05) * 0.05), 2) for c, v in zip(names, w)}
    return {"weights": weights, "bands": [float(round(np.percentile(rows["engagement_score"], q))) for q in (33, 67)]}


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def report(rows: pd.DataFrame, weights: dict) -> dict:
    """Spearman of the score, of the score without voice, and of each component, with the
    score's bootstrap interval over learners."""
    from features.scoring.components import COMPONENTS
    from features.stats import bootstrap_ci

    out = {"rows": len(rows), "spearman": spearman(rows["engagement_score"], rows["engagement"])}
    out["spearman_ci_low"], out["spearman_ci_high"] = bootstrap_ci(
        spearman, rows["engagement_score"].to_numpy(), rows["engagement"].to_numpy(), n=500, groups=rows["user_id"])
    behaviour = [c.name for c in COMPONENTS if not c.voice and weights.get(c.name)]
    values = rows[behaviour].to_numpy(dtype=float)
    w = np.array([weights[c] for c in behaviour])
    has = ~np.isnan(values)
    no_voice = np.nansum(np.where(has, values * w, 0), axis=1) / (has * w).sum(axis=1)
    out["spearman_audio_off"] = spearman(no_voice, rows["engagement"])
    for c in COMPONENTS:
        ok = rows[c.name].notna()
        if ok.sum() > 10:
            out[c.name] = spearman(rows.loc[ok, c.name], rows.loc[ok, "engagement"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--fit-seed", type=int, default=7)
    parser.add_argument("--eval-seed", type=int, default=11)
    parser.add_argument("--workdir", help="keep the simulations and runs here (reused when present)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp())
    fit_rows, _ = run_platform(work / f"seed{args.fit_seed}-{args.learners}", args.learners, args.fit_seed, None)
    chosen = choose(fit_rows)
    print(f"chosen on seed {args.fit_seed} ({len(fit_rows)} rows): {chosen}")
    rows, _ = run_platform(work / f"seed{args.eval_seed}-{args.learners}", args.learners, args.eval_seed, chosen)
    result = report(rows, chosen["weights"])
    print(f"seed {args.eval_seed}:", {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})
    print(" ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
