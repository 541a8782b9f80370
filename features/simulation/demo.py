"""The demo: a simulated platform in a local storage emulator, and the config to run it with."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator

import yaml

from features.simulation.emulator import StorageEmulator
from features.simulation.publish import DEMO_CURRICULUM, simulate_platform

DEMO_BUCKET = "engage-demo"
DEMO_CONFIG = Path(__file__).with_name("demo_config.yaml")
DEMO_NUDGES = Path(__file__).with_name("demo_nudges.yaml")
# 20 weeks with sign-ups spread over 14 of them: the same ~5,200 answers as 500 learners over
# 12 weeks, and enough weeks of history to train and evaluate the dropout-risk model in time order.
DEMO_WEEKS, DEMO_SIGNUP_SPREAD_DAYS = 20, 98
SIMULATION_LAYOUT = "attributes-2"  # bumped when the simulator writes something new: the demo simulates again


@contextlib.contextmanager
def demo_platform(workdir: str | Path, learners: int = 500, seed: int = 7) -> Iterator[dict]:
    """Start the storage emulator under ``workdir/gcs`` (``STORAGE_EMULATOR_HOST`` is set while
    the context lasts), simulate the platform into it once per (learners, seed), and write the
    run config ``workdir/engage.yaml``.

    Yields ``{"config": path, "truth": folder, "simulated": summary or None when reused,
    "seconds": simulation time}``.
    """
    workdir = Path(workdir).resolve()
    sim_dir = workdir / "sim"
    marker = sim_dir / f"done-{learners}-{seed}-{DEMO_WEEKS}w-{SIMULATION_LAYOUT}"
    with StorageEmulator(data_dir=workdir / "gcs") as emulator:
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
        try:
            summary, started = None, time.perf_counter()
            if not marker.exists():
                summary = simulate_platform(sim_dir, learners, seed, DEMO_WEEKS, DEMO_BUCKET,
                                            signup_spread_days=DEMO_SIGNUP_SPREAD_DAYS)
                marker.write_text("ok")
            yield {"config": write_demo_config(workdir), "truth": sim_dir / "truth", "simulated": summary,
                   "seconds": time.perf_counter() - started}
        finally:
            if previous is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = previous


def write_demo_config(workdir: Path) -> Path:
    """Write the demo config with absolute paths (outputs under ``workdir/out``); return its path."""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["inputs"]["curriculum"] = str(DEMO_CURRICULUM)
    config["nudges"] = {**config.get("nudges", {}), "rules": str(DEMO_NUDGES)}
    config["output"]["root"] = str(workdir / "out")
    path = workdir / "engage.yaml"
    path.write_text("# Written by `engage demo` from features/simulation/demo_config.yaml.\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path
