"""The ``engage`` command: simulate a demo platform, run the pipeline, or both (demo)."""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

DEMO_BUCKET = "engage-demo"

_PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def simulate_platform(out: Path, learners: int, seed: int, weeks: int, bucket: str | None,
                      workers: int | None = None) -> dict:
    """Simulate a platform into ``out`` (telemetry/, truth/, and audio/ when ``bucket`` is None)
    and, with a bucket, upload telemetry and audio to ``gs://<bucket>/``; return a summary."""
    from audio.storage import ensure_bucket, storage_client, upload_bytes
    from audio.synthesis import render_clip
    from features.curriculum import load_curriculum
    from features.simulator import SimulationConfig, simulate, truth_tables

    out = Path(out).resolve()
    audio_base = f"gs://{bucket}/audio" if bucket else str(out / "audio")
    cfg = SimulationConfig(learners=learners, seed=seed, weeks=weeks, audio_base_uri=audio_base)
    platform = simulate(cfg, load_curriculum())
    client = None
    if bucket:
        client = storage_client(DEMO_BUCKET)
        ensure_bucket(client, bucket)
    (out / "telemetry").mkdir(parents=True, exist_ok=True)
    for name, lines in platform.telemetry.items():
        data = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=5, mtime=0)
        (out / "telemetry" / name).write_bytes(data)
        if client:
            upload_bytes(client, f"gs://{bucket}/telemetry/{name}", data, "application/gzip")
    (out / "truth").mkdir(exist_ok=True)
    for name, table in truth_tables(platform).items():
        table.to_parquet(out / "truth" / f"{name}.parquet", index=False)
    clips = platform.clips

    def store(spec, data: bytes) -> None:
        if spec.case == "missing":
            return
        if client:
            upload_bytes(client, spec.uri, data, "audio/ogg")
        else:
            Path(spec.uri).parent.mkdir(parents=True, exist_ok=True)
            Path(spec.uri).write_bytes(data)

    # spawn, not fork: callers (tests, Prefect) may have threads running.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers or os.cpu_count(), mp_context=spawn) as pool, ThreadPoolExecutor(4) as io:
        pending = [io.submit(store, spec, data)
                   for spec, data in zip(clips, pool.map(render_clip, clips, chunksize=32))]
        for f in pending:
            f.result()
    summary = {"learners": learners, "seed": seed, "weeks": weeks, "bucket": bucket,
               "telemetry_files": sorted(platform.telemetry), "clips": len(clips),
               "audio_seconds": round(sum(c.duration_s for c in clips), 1),
               "planted_records": len(platform.bad_records),
               "config": {k: str(v) for k, v in asdict(cfg).items()}}
    (out / "truth" / "simulation.json").write_text(json.dumps(summary, indent=2))
    return summary


def run_pipeline(config_file: str | None, as_of: datetime | None, run_date: date | None) -> dict:
    """Run ``engagement_pipeline`` locally (ephemeral Prefect) and return its manifest."""
    from flows.config import RunParameters
    from flows.engagement import engagement_pipeline

    return engagement_pipeline(RunParameters(config_file=config_file, as_of=as_of, run_date=run_date))


def _cmd_simulate(args) -> int:
    summary = simulate_platform(Path(args.out), args.learners, args.seed, args.weeks,
                                None if args.local else args.bucket)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    return 0


def _cmd_run(args) -> int:
    from flows.config import ConfigError
    from tasks.publish import RunThresholdError

    started = time.perf_counter()
    try:
        manifest = run_pipeline(args.config, args.as_of, args.run_date)
    except (ConfigError, FileNotFoundError, RunThresholdError) as exc:
        print(f"engage run failed: {exc}", file=sys.stderr)
        return 2
    _print_run(manifest, time.perf_counter() - started)
    return 0


def _print_run(manifest: dict, seconds: float) -> None:
    c = manifest["counts"]
    print(f"engage run {manifest['run_date']} (as_of {manifest['as_of']}) took {seconds:.1f} s")
    print(f"  input records {c['ingest']['input_records']} = events {c['ingest']['events']}"
          f" + duplicates {c['ingest']['duplicates']} + quarantined {c['ingest']['quarantined']}")
    print(f"  sessions {c['sessions']['sessions']}, responses {c['responses']['responses']}"
          f" (unmapped {c['responses']['unmapped']}), learner x phase rows {c['phase_activity']['rows']}")
    for name, folder in manifest["tables"].items():
        print(f"  {name:15s} {folder}")
    print(f"  manifest        {manifest['manifest_path']}")
    if manifest["accounting_problems"]:
        print(f"  ACCOUNTING PROBLEMS: {manifest['accounting_problems']}")


def _cmd_demo(args) -> int:
    from audio.emulator import StorageEmulator

    workdir = Path(args.workdir).resolve()
    sim_dir = workdir / "sim"
    marker = sim_dir / f"done-{args.learners}-{args.seed}"
    with StorageEmulator(data_dir=workdir / "gcs") as emulator:
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.host
        if not marker.exists():
            started = time.perf_counter()
            print(f"simulating {args.learners} learners into gs://{DEMO_BUCKET} (emulator {emulator.host}) ...")
            summary = simulate_platform(sim_dir, args.learners, args.seed, 12, DEMO_BUCKET)
            marker.write_text("ok")
            print(f"  {summary['clips']} clips ({summary['audio_seconds']} s of audio), "
                  f"{summary['planted_records']} planted problems; took {time.perf_counter() - started:.0f} s")
        os.chdir(workdir.parent)
        args.config, args.as_of, args.run_date = None, None, None
        code = _cmd_run(args)
    print(f"ground truth (never read by the pipeline): {sim_dir / 'truth'}")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``engage`` console script."""
    parser = argparse.ArgumentParser(prog="engage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("simulate", help="simulate a demo platform (telemetry, audio, ground truth)")
    p.add_argument("--out", required=True)
    p.add_argument("--learners", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--weeks", type=int, default=12)
    p.add_argument("--bucket", default=DEMO_BUCKET, help="upload to gs://BUCKET (needs STORAGE_EMULATOR_HOST or credentials)")
    p.add_argument("--local", action="store_true", help="write audio to OUT/audio instead of a bucket")
    p.set_defaults(func=_cmd_simulate)
    p = sub.add_parser("run", help="run the pipeline on a config (the embedded demo config by default)")
    p.add_argument("--config")
    p.add_argument("--as-of", type=datetime.fromisoformat, dest="as_of")
    p.add_argument("--run-date", type=date.fromisoformat, dest="run_date")
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("demo", help="start the storage emulator, simulate (once) and run the pipeline")
    p.add_argument("--workdir", default=".demo")
    p.add_argument("--learners", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_cmd_demo)
    args = parser.parse_args(argv)
    for key, value in _PREFECT_DEFAULTS.items():  # before anything imports prefect
        os.environ.setdefault(key, value)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
