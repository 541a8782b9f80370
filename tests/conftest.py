"""Shared fixtures: Prefect test harness, storage emulator, a small simulated platform."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from flows.prefect_env import apply_prefect_defaults

# Prefect must be configured before it is imported anywhere; its home is this session's own.
apply_prefect_defaults(PREFECT_HOME=tempfile.mkdtemp(prefix="engage-prefect-"))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory):
    """A gcp-storage-emulator on 127.0.0.1 for the session; sets STORAGE_EMULATOR_HOST."""
    from features.simulation.emulator import StorageEmulator

    with StorageEmulator(data_dir=tmp_path_factory.mktemp("gcs")) as emulator:
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
        yield emulator
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture(scope="session")
def small_platform(tmp_path_factory, gcs_emulator):
    """A 40-learner simulated platform in the emulator bucket ``engage-test``; returns its folder."""
    from features.simulation.publish import simulate_platform

    out = tmp_path_factory.mktemp("platform")
    summary = simulate_platform(out, learners=40, seed=11, weeks=12, bucket="engage-test", workers=2)
    return {"dir": out, "summary": summary, "bucket": "engage-test"}
