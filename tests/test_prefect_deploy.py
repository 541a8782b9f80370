"""prefect.yaml deployed to a real local Prefect server, and both deployments run end to end by
a process worker on a small simulated platform: server and worker are started and stopped here
(the storage emulator by the session fixture)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from features.simulation.emulator import free_port
from features.simulation.publish import DEMO_CURRICULUM
from flows.prefect_env import PREFECT_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
PREFECT = str(Path(sys.executable).parent / "prefect")
pytestmark = pytest.mark.slow


def prefect(args, env, **kw):
    return subprocess.run([PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=240, **kw)


def api_call(api: str, path: str, body: dict | None = None):
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}, method="POST" if body else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, gcs_emulator):
    """A local Prefect server with the process work pool and prefect.yaml deployed."""
    tmp = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **PREFECT_DEFAULTS, "PREFECT_HOME": str(tmp / "home"), "PREFECT_API_URL": api,
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp}/prefect.db", "ENGAGE_HOME": str(REPO)}
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if api_call(api, "/health") is True:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("prefect server did not start in 120 s")
                time.sleep(0.5)
        pool = prefect(["work-pool", "create", "engage-process", "--type", "process"], env)
        assert pool.returncode == 0, pool.stderr + pool.stdout
        deploy = prefect(["--no-prompt", "deploy", "--all"], env)
        assert deploy.returncode == 0, deploy.stderr + deploy.stdout
        yield {"api": api, "env": env, "tmp": tmp}
    finally:
        server.terminate()
        server.wait(30)


def test_prefect_deploy_all_accepts_prefect_yaml(deployed):
    env = deployed["env"]
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


def trigger(deployed, name: str, config: Path) -> str:
    """Start a run of deployment ``name`` with ``config``; return its flow run id."""
    started = prefect(["deployment", "run", name, "--params", json.dumps({"params": {"config_file": str(config)}})],
                      deployed["env"])
    assert started.returncode == 0, started.stderr + started.stdout
    return re.search(r"UUID:\s*([0-9a-f-]{36})", started.stdout).group(1)


def wait_for(deployed, run_id: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = api_call(deployed["api"], f"/flow_runs/{run_id}")
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    pytest.fail(f"flow run {run_id} did not finish in {timeout_s} s")


def test_a_worker_runs_both_deployments_to_completion_with_their_artifacts(deployed, small_platform):
    config = deployed["tmp"] / "engage.yaml"
    config.write_text(yaml.safe_dump({
        "inputs": {"telemetry": [f"gs://{small_platform['bucket']}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
        "storage": {"project": "engage-test"}, "output": {"root": str(deployed["tmp"] / "out")},
        "audio": {"enabled": False},
        "risk": {"snapshot_every_days": 1, "min_positives": 3, "refits": 2, "max_iter": 40, "min_auc": 0.0,
                 "max_spread": 1.0}}))
    log = open(deployed["tmp"] / "worker.log", "w")
    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "engage-process", "--limit", "1"],
                              env={**deployed["env"], **{k: v for k, v in os.environ.items() if k.startswith("STORAGE")}},
                              cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        daily = wait_for(deployed, trigger(deployed, "engagement_pipeline/daily-scoring", config))
        assert daily["state"]["type"] == "COMPLETED", (deployed["tmp"] / "worker.log").read_text()[-3000:]
        weekly = wait_for(deployed, trigger(deployed, "train_risk/weekly-risk-training", config))
        assert weekly["state"]["type"] == "COMPLETED", (deployed["tmp"] / "worker.log").read_text()[-3000:]
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:  # a worker that outlives SIGTERM is cleanup, not the result
            worker.kill()
            worker.wait(10)
        log.close()
    assert (deployed["tmp"] / "out" / "_registry" / "risk-model" / "current").is_file()
    artifacts = api_call(deployed["api"], "/artifacts/filter", {"sort": "KEY_ASC"})  # this server ran one daily
    keys = {a["key"] for a in artifacts}
    assert {"engage-run-summary", "engage-phase-scores", "engage-findings", "engage-report",
            "engage-risk-model"} <= keys
    report = next(a for a in artifacts if a["key"] == "engage-report")
    path = Path(urllib.request.url2pathname(re.search(r"\(file://(.+)\)", report["data"]).group(1)))
    assert path.is_file() and path.read_text().startswith("<!doctype html>")
