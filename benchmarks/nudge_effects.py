"""Are planted nudge effects recovered? Over many simulator seeds, the ``nudge_effects`` interval
of the type that helps should hold its planted effect, and that of the type that does nothing
should hold zero, in at least 17 of 20 seeds.

Per seed: simulate a platform (audio off), run the pipeline with two rule types (``comeback``:
planted effect by risk band; ``streak``: none), let the platform go on two weeks with that run's
nudges delivered (features/simulation/continuation.py), run again, and compare each type's
interval in that run's ``nudge_effects`` with the truth (the uplift the planted effect implies on
the learners actually assigned).

    python benchmarks/nudge_effects.py [--seeds 20] [--learners 6000] [--workdir DIR]

Last line: ``seeds=... comeback_covered=... streak_covered_zero=... max_half_width=...``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = [
    {"id": "comeback", "type": "comeback", "channel": "push", "when": "days_since_last_activity >= 3",
     "title": "Come back", "body": "It has been {days_since_last_activity:.0f} days.", "action": "app://continue",
     "reason": "no activity for {days_since_last_activity:.0f} days", "prior": 0.05, "expires_hours": 48},
    {"id": "streak", "type": "streak", "channel": "in_app", "when": "days_since_last_activity < 3",
     "title": "Keep going", "body": "Your last lesson was {days_since_last_activity:.1f} days ago.", "action": "app://continue",
     "reason": "active {days_since_last_activity:.1f} days ago", "prior": 0.01, "expires_hours": 24},
]


def one_seed(folder: Path, seed: int, learners: int, weeks: int = 8, spread_days: int = 42,
             holdout_share: float = 0.5) -> dict:
    """Simulate, run, continue, run again; return per type the measured effect and the truth."""
    from features.simulation.continuation import continue_platform
    from features.simulation.publish import DEMO_CURRICULUM, simulate_platform
    from flows.engagement import run_pipeline
    from outputs.tables import read_partition

    folder.mkdir(parents=True, exist_ok=True)
    simulate_platform(folder / "sim", learners, seed, weeks, bucket=None, signup_spread_days=spread_days,
                      render_audio=False)
    (folder / "rules.yaml").write_text(yaml.safe_dump(RULES))
    config = {"inputs": {"telemetry": [str(folder / "sim" / "telemetry")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(folder / "out")}, "audio": {"enabled": False},
              "quality": {"max_quarantine_share": 0.1},
              "nudges": {"rules": str(folder / "rules.yaml"), "holdout_share": holdout_share,
                         "max_per_learner": 2}}
    (folder / "engage.yaml").write_text(yaml.safe_dump(config))
    first = run_pipeline(str(folder / "engage.yaml"))
    day = pd.Timestamp(first["run_date"]).date()
    truth = continue_platform(folder / "sim", read_partition(folder / "out", "nudges", day).to_pandas(),
                              read_partition(folder / "out", "nudge_assignments", day).to_pandas(),
                              pd.Timestamp(first["as_of"]).to_pydatetime())
    second = run_pipeline(str(folder / "engage.yaml"))
    effects = read_partition(folder / "out", "nudge_effects", pd.Timestamp(second["run_date"]).date()).to_pandas()
    out = {}
    for kind, t in truth["types"].items():
        row = effects[(effects["scope"] == "type") & (effects["type"] == kind)].iloc[0]
        out[kind] = {"truth": t["expected_uplift"], "uplift": float(row["uplift"]), "ci": [row["ci_low"], row["ci_high"]],
                     "treated": int(row["treated"]), "held_out": int(row["held_out"]),
                     "covered": bool(row["ci_low"] <= t["expected_uplift"] <= row["ci_high"]),
                     "covers_zero": bool(row["ci_low"] <= 0 <= row["ci_high"]),
                     "half_width": round(float(row["ci_high"] - row["ci_low"]) / 2, 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--learners", type=int, default=6000)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    from flows.prefect_env import apply_prefect_defaults

    apply_prefect_defaults()
    work = Path(args.workdir or tempfile.mkdtemp())
    results = {}
    for seed in range(1, args.seeds + 1):
        results[seed] = one_seed(work / f"seed{seed}", seed, args.learners)
        print(seed, json.dumps(results[seed]), flush=True)
    covered = sum(r["comeback"]["covered"] for r in results.values())
    zero = sum(r["streak"]["covers_zero"] for r in results.values())
    width = max(r[k]["half_width"] for r in results.values() for k in r)
    print(f"seeds={len(results)} comeback_covered={covered} streak_covered_zero={zero} max_half_width={width}")


if __name__ == "__main__":
    main()
