"""Where a run's results come from: the config's hash and the code's version."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path


def config_hash(config: dict) -> str:
    """Return the sha256 of a config's canonical JSON form."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def code_version() -> dict:
    """Return the installed package version and, when run from a git checkout, the commit."""
    try:
        version = metadata.version("engage")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"package": version, "git_commit": commit}
