"""A run of the session's small simulated platform (audio in batches of 100, the demo's nudge
rules) that tests compare other runs with: the config each writes, and the first run itself."""

from __future__ import annotations

from pathlib import Path

import yaml

from features.simulation.demo import DEMO_NUDGES
from features.simulation.publish import DEMO_CURRICULUM


def platform_config(root: Path, bucket: str, runner: dict | None = None) -> str:
    """Write ``root/engage.yaml`` (outputs under ``root/out``, audio cache ``root/cache``) and
    return its path."""
    config = {"inputs": {"telemetry": [f"gs://{bucket}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
              "storage": {"project": "engage-test"}, "output": {"root": str(root / "out")},
              "audio": {"batch_size": 100, "cache_dir": str(root / "cache"),
                        "fetch": {"allowed_prefixes": [f"gs://{bucket}/audio/"]}},
              "nudges": {"rules": str(DEMO_NUDGES), "holdout_share": 0.2}, **({"runner": runner} if runner else {})}
    root.mkdir(parents=True, exist_ok=True)
    (root / "engage.yaml").write_text(yaml.safe_dump(config))
    return str(root / "engage.yaml")


def same_tables(left: Path, right: Path, run_date, tables) -> dict:
    """Assert each table's ``run_date`` partition is equal row for row under two roots (paths
    into each root's own audio cache aside); return table -> the right root's frame."""
    import re

    import pandas as pd
    import pyarrow.parquet as pq

    from outputs.tables import partition_dir

    right_frames = {}
    for table in tables:
        frames = [pq.read_table(partition_dir(root / "out", table, run_date)).to_pandas()
                  .replace(re.escape(str(root)), "<root>", regex=True) for root in (left, right)]
        pd.testing.assert_frame_equal(frames[1], frames[0], obj=table)
        right_frames[table] = frames[1]
    return right_frames
