"""Prefect's environment for engage, in one place: set before Prefect is first imported (by the
CLI, the test suite and the deployment test)."""

from __future__ import annotations

import os

PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def apply_prefect_defaults(**overrides: str) -> None:
    """Set each default (and each override) in ``os.environ`` unless already set there;
    overrides win over what is set."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.update(overrides)
