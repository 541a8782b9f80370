"""A run killed (SIGKILL to its whole process group) during audio analysis, then during scoring,
then while publishing, and run again, ends with the tables of a clean run, row for row: no
duplicate row, no partition half written, nudge state advanced once, and a manifest that shows
the killed attempts' work came from the caches.

Two roots start from the same first run date D1 (the session's ``first_run``; no audio cache).
The clean root runs D2 once; the other runs D2 killed three times, then a fourth time to the
end. Each killed attempt is a CLI process of its own (``tests.flows.killed_run``) talking to
the session's Prefect server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.manifest import manifest_path, read_manifest
from outputs.tables import NUDGE_TABLES, TABLES, partition_dir, run_dates
from tests.flows.platform_run import platform_config, same_tables

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _killed(point: str, config: str, as_of: str, run_date: date) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run([sys.executable, "-m", "tests.flows.killed_run", point, "--", "run", "--config", config,
                           "--as-of", as_of, "--run-date", run_date.isoformat()],
                          cwd=REPO, env=env, start_new_session=True, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, f"{point}: exit {done.returncode}\n{done.stderr[-3000:]}"


def test_killed_three_times_then_rerun_equals_a_clean_run(tmp_path, first_run, small_platform):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for root in (clean, killed):  # D1's tables, nudge state and model registry; no audio cache
        shutil.copytree(first_run["root"] / "out", root / "out")
    clean_config, killed_config = (platform_config(root, small_platform["bucket"]) for root in (clean, killed))
    d1 = date.fromisoformat(first_run["manifest"]["run_date"])
    # Eight days on: past the nudge cooldowns, so D2 sends again from D1's state.
    d2, d2_as_of = d1 + timedelta(days=8), pd.Timestamp(first_run["manifest"]["as_of"]).to_pydatetime() + timedelta(days=8)
    reference = engagement_pipeline(RunParameters(config_file=clean_config, as_of=d2_as_of, run_date=d2))

    _killed("audio", killed_config, d2_as_of.isoformat(), d2)
    _killed("scoring", killed_config, d2_as_of.isoformat(), d2)
    _killed("publishing", killed_config, d2_as_of.isoformat(), d2)
    # The kill left one partition half published (hidden), eleven swapped in, and no manifest.
    assert list((killed / "out").glob("*/.run_date=*")), "the publishing kill came after the last table"
    assert partition_dir(killed / "out", "nudge_state", d2).exists()
    assert not manifest_path(killed / "out", d2).exists()

    resumed = engagement_pipeline(RunParameters(config_file=killed_config, as_of=d2_as_of, run_date=d2))

    for table, got in same_tables(clean, killed, d2, (*TABLES, *NUDGE_TABLES)).items():
        assert len(got) > 0 or table == "quarantine", table
        assert not got.astype(str).duplicated().any(), table
        assert run_dates(killed / "out", table) == [d1, d2], table
    assert not list((killed / "out").rglob(".run_date=*")), "a hidden partition folder was left behind"
    assert read_manifest(killed / "out", d2)["tables"].keys() == reference["tables"].keys()

    # Nudge state was carried from D1 once: what the clean run planned from D1's state.
    assert resumed["counts"]["nudges"] == reference["counts"]["nudges"]
    assert resumed["counts"]["nudges"]["state_from"] == f"run_date={d1}"

    # The killed attempts downloaded and analysed every clip; the last one found them all cached.
    work, clean_work = resumed["work"], reference["work"]
    assert work["audio_downloaded"] == work["tone_analysed"] == 0
    assert work["tone_cache_hits"] == clean_work["tone_analysed"] + clean_work["tone_cache_hits"] > 0
    assert work["audio_cache_hits"] == clean_work["audio_downloaded"] + clean_work["audio_cache_hits"] > 0
