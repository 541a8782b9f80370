"""The demo, end to end: the simulated platform, a daily run, the weekly risk training, and a
second daily run that scores risk with the model just promoted."""

from __future__ import annotations

from pathlib import Path

from features.registry import Registry
from features.risk.model import RISK_KIND, RiskDataError
from flows.config import load_config
from flows.engagement import run_pipeline
from flows.train_risk import run_train_risk


def run_demo(workdir: str | Path, learners: int = 500, seed: int = 7) -> dict:
    """Simulate the demo platform (once), run the pipeline, and, when no risk model is current
    yet, train one and run again. Return the simulation summary, the config and truth paths, the
    last run's manifest and the risk training result (None when a model was already current)."""
    from features.simulation.demo import demo_platform

    with demo_platform(workdir, learners, seed) as demo:
        manifest = run_pipeline(str(demo["config"]))
        training = None
        if Registry(load_config(demo["config"]).registry_root).current(RISK_KIND) is None:
            try:
                training = run_train_risk(str(demo["config"]))
            except RiskDataError as exc:
                training = {"error": str(exc), "promoted": False}
            if training["promoted"]:
                manifest = run_pipeline(str(demo["config"]))
    return {**demo, "manifest": manifest, "risk_training": training}
