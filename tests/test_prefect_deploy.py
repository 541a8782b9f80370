"""prefect.yaml is accepted by `prefect deploy --all` against a real local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from features.simulation.emulator import free_port
from flows.prefect_env import PREFECT_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def prefect(args, env, **kw):
    cmd = [str(Path(sys.executable).parent / "prefect"), *args]
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=240, **kw)


def test_prefect_deploy_all_accepts_prefect_yaml(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **PREFECT_DEFAULTS, "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_API_URL": api,
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path}/prefect.db",
           "ENGAGE_HOME": str(REPO)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("prefect server did not start in 120 s")
                time.sleep(0.5)
        pool = prefect(["work-pool", "create", "engage-process", "--type", "process"], env)
        assert pool.returncode == 0, pool.stderr + pool.stdout
        deploy = prefect(["--no-prompt", "deploy", "--all"], env)
        assert deploy.returncode == 0, deploy.stderr + deploy.stdout
        shown = prefect(["deployment", "inspect", "engagement_pipeline/daily-scoring", "--output", "json"], env)
        assert shown.returncode == 0, shown.stderr + shown.stdout
        deployment = json.loads(shown.stdout)
        assert deployment["work_pool_name"] == "engage-process"
        assert deployment["parameters"] == {"params": {"config_file": "config/engage.yaml"}}
        (schedule,) = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "0 5 * * *"
        assert schedule["schedule"]["timezone"] == "Europe/London"
        assert deployment["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
        shown = prefect(["deployment", "inspect", "train_risk/weekly-risk-training", "--output", "json"], env)
        assert shown.returncode == 0, shown.stderr + shown.stdout
        weekly = json.loads(shown.stdout)
        assert weekly["entrypoint"] == "flows/train_risk.py:train_risk"
        assert weekly["parameters"] == {"params": {"config_file": "config/engage.yaml"}}
        assert [s["schedule"]["cron"] for s in weekly["schedules"]] == ["0 3 * * 1"]
    finally:
        server.terminate()
        server.wait(30)
