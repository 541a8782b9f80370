"""Publish a simulated platform: telemetry files, rendered answers and ground truth on disk,
and, with a bucket, telemetry and audio uploaded to ``gs://<bucket>/`` (the storage emulator in
the demo and the tests; google-cloud-storage talks to it when ``STORAGE_EMULATOR_HOST`` is set).
"""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from features.curriculum import load_curriculum
from features.parallel import process_imap
from features.simulation.platform import SimulationConfig, simulate, truth_tables
from features.simulation.speech import render_clip

DEMO_CURRICULUM = Path(__file__).with_name("demo_curriculum.yaml")
OPT_OUT_SHARE = 0.04  # learners whose attributes say they want no nudges


def bucket_client(project: str | None = None):
    """Return a google-cloud-storage client (anonymous against ``STORAGE_EMULATOR_HOST``)."""
    from google.cloud import storage

    return storage.Client(project=project or "engage-demo")


def ensure_bucket(client, name: str) -> None:
    """Create bucket ``name`` unless it exists."""
    from google.api_core.exceptions import Conflict

    try:
        client.create_bucket(name)
    except Conflict:
        pass


def upload_bytes(client, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    """Upload ``data`` to ``gs://bucket/key``."""
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    client.bucket(bucket).blob(key).upload_from_string(data, content_type=content_type)


def simulate_platform(out: str | Path, learners: int = 500, seed: int = 7, weeks: int = 12,
                      bucket: str | None = None, workers: int | None = None, signup_spread_days: int = 21,
                      render_audio: bool = True) -> dict:
    """Simulate a platform on the demo curriculum into ``out`` (``telemetry/``, learner
    ``attributes/learners.csv``, ``truth/``, and ``audio/`` when ``bucket`` is None) and, with a
    bucket, upload telemetry, attributes and audio to
    ``gs://<bucket>/``. Clips are rendered over worker processes (none without
    ``render_audio``: every answer's audio is then missing). Returns a summary (also written to
    ``truth/simulation.json``)."""
    out = Path(out).resolve()
    audio_base = f"gs://{bucket}/audio" if bucket else str(out / "audio")
    cfg = SimulationConfig(learners=learners, seed=seed, weeks=weeks, audio_base_uri=audio_base,
                           signup_spread_days=signup_spread_days)
    platform = simulate(cfg, load_curriculum(DEMO_CURRICULUM))
    client = None
    if bucket:
        client = bucket_client()
        ensure_bucket(client, bucket)
    (out / "telemetry").mkdir(parents=True, exist_ok=True)
    for name, lines in platform.telemetry.items():
        data = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=5, mtime=0)
        (out / "telemetry" / name).write_bytes(data)
        if client:
            upload_bytes(client, f"gs://{bucket}/telemetry/{name}", data, "application/gzip")
    opted_out = np.random.default_rng([seed, 77]).random(len(platform.learners)) < OPT_OUT_SHARE
    attributes = (platform.learners[["user_id", "age_band", "gender", "first_language"]]
                  .assign(nudges_opt_out=np.where(opted_out, "yes", "no")).to_csv(index=False).encode())
    (out / "attributes").mkdir(exist_ok=True)
    (out / "attributes" / "learners.csv").write_bytes(attributes)
    if client:
        upload_bytes(client, f"gs://{bucket}/attributes/learners.csv", attributes, "text/csv")
    (out / "truth").mkdir(exist_ok=True)
    for name, table in truth_tables(platform).items():
        table.to_parquet(out / "truth" / f"{name}.parquet", index=False)

    def store(spec, data: bytes) -> None:
        if spec.case == "missing":
            return
        if client:
            upload_bytes(client, spec.uri, data, "audio/ogg")
        else:
            Path(spec.uri).parent.mkdir(parents=True, exist_ok=True)
            Path(spec.uri).write_bytes(data)

    clips = platform.clips if render_audio else []
    with ThreadPoolExecutor(4) as io:  # uploads overlap the rendering of later clips
        pending = [io.submit(store, spec, data)
                   for spec, data in zip(clips, process_imap(render_clip, clips, workers=workers, chunksize=32))]
        for f in pending:
            f.result()
    summary = {"learners": learners, "seed": seed, "weeks": weeks, "bucket": bucket,
               "telemetry_files": sorted(platform.telemetry), "clips": len(clips),
               "audio_seconds": round(sum(c.duration_s for c in clips), 1),
               "planted_records": len(platform.bad_records),
               "config": {k: str(v) for k, v in asdict(cfg).items()}}
    (out / "truth" / "simulation.json").write_text(json.dumps(summary, indent=2))
    return summary
