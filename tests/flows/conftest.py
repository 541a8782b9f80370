"""The flow tests' shared run of the small platform."""

from __future__ import annotations

import pytest

from tests.flows.platform_run import platform_config


@pytest.fixture(scope="session")
def first_run(tmp_path_factory, prefect_harness, small_platform):
    """The small platform's run in threads (``platform_config``); returns its root and manifest.
    Tests copy its outputs, never write under its root."""
    from flows.config import RunParameters
    from flows.engagement import engagement_pipeline

    root = tmp_path_factory.mktemp("first-run")
    manifest = engagement_pipeline(RunParameters(config_file=platform_config(root, small_platform["bucket"])))
    return {"root": root, "manifest": manifest}
