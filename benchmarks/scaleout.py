"""Scale-out: the whole pipeline on a platform ``--scale`` times the demo's (500 learners x scale,
the demo's 20 weeks, local telemetry and audio), run on a local Dask cluster of each worker count
in ``--workers`` (``runner: {kind: dask, workers: N}``), each from an empty output folder and
audio cache. The first worker count is the baseline measured in the same run.

    python benchmarks/scaleout.py [--scale 8] [--workers 1,2] [--threads]   # 1,4,8 on 16 cores

The simulated platform is kept under ``benchmarks/.data`` and reused. With ``--threads`` the
default runner (threads in the flow's process) runs first, for reference. Prints each run's wall
time and its ingest and audio stage times. Last line: ``learners=... responses=...
[threads_s=...] workers_<N>_s=... ... speedup=...`` (speedup = first count's time / last count's).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "benchmarks" / ".data"


def platform(scale: float) -> Path:
    """Simulate (once) a platform ``scale`` times the demo's into ``benchmarks/.data``; return
    its folder."""
    from features.simulation.demo import DEMO_SIGNUP_SPREAD_DAYS, DEMO_WEEKS
    from features.simulation.publish import simulate_platform

    folder = DATA / f"scaleout-{scale:g}x"
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        simulate_platform(folder, learners=round(500 * scale), seed=7, weeks=DEMO_WEEKS,
                          signup_spread_days=DEMO_SIGNUP_SPREAD_DAYS)
        (folder / "done").write_text("ok")
    return folder


def run(sim: Path, root: Path, workers: int | None) -> tuple[float, dict]:
    """Run the pipeline on ``sim`` with a local Dask cluster of ``workers`` processes (None:
    the default runner, threads), outputs under ``root``; return (wall seconds, manifest)."""
    from features.simulation.demo import DEMO_NUDGES
    from features.simulation.publish import DEMO_CURRICULUM
    from flows.engagement import run_pipeline

    config = {"inputs": {"telemetry": [str(sim / "telemetry")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(root / "out")},
              "audio": {"fetch": {"allowed_prefixes": [str(sim / "audio") + "/"]}},
              "nudges": {"rules": str(DEMO_NUDGES)},
              **({"runner": {"kind": "dask", "workers": workers}} if workers else {})}
    root.mkdir(parents=True)
    (root / "engage.yaml").write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    manifest = run_pipeline(str(root / "engage.yaml"))
    return time.perf_counter() - started, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=8.0)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--threads", action="store_true", help="also run with the default runner (threads)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    from flows.prefect_env import apply_prefect_defaults

    apply_prefect_defaults(PREFECT_HOME=tempfile.mkdtemp(prefix="engage-bench-prefect-"))
    started = time.perf_counter()
    sim = platform(args.scale)
    print(f"platform {args.scale:g}x the demo ready in {time.perf_counter() - started:.0f} s: {sim}")
    seconds, manifest = {}, {}
    with tempfile.TemporaryDirectory(prefix="engage-scaleout-") as tmp:
        for n in ([None] if args.threads else []) + counts:
            seconds[n], manifest = run(sim, Path(tmp) / f"workers-{n}", n)
            stages = manifest["timings_s"]
            print(f"{f'{n} Dask worker(s)' if n else 'threads (default runner)'}: {seconds[n]:.1f} s "
                  f"(ingest {stages.get('ingest', 0):.1f} s, audio {stages.get('audio', 0):.1f} s; "
                  f"{manifest['work']['tone_analysed']} clips analysed)")
    print(" ".join([f"learners={round(500 * args.scale)}", f"responses={manifest['counts']['responses']['responses']}",
                    *([f"threads_s={seconds[None]:.1f}"] if args.threads else []),
                    *(f"workers_{n}_s={seconds[n]:.1f}" for n in counts),
                    f"speedup={seconds[counts[0]] / seconds[counts[-1]]:.2f}"]))


if __name__ == "__main__":
    main()
