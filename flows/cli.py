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
        client = storage_client()
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


def _emotion_frames(args):
    from audio.descriptors import describe_files
    from features.corpora import read_labelled_manifest

    def load(csv):
        rows = read_labelled_manifest(csv, args.file_col, args.speaker_col, args.label_col)
        frames = [rows, describe_files(list(rows["path"]))]
        if getattr(args, "ssl_model", None):
            frames.append(_ssl_columns(args.ssl_model, list(rows["path"])))
        return pd_concat(*frames)

    train = load(args.cv or args.train)
    test = load(args.test) if args.test else None
    return train, test


def _fluency_frames(args):
    from audio.descriptors import describe_files
    from features.corpora import heuristic_subscores, read_rated_folder

    def load(folder):
        rows = read_rated_folder(folder)
        descriptors = describe_files(list(rows["path"]))
        if "prompt_words" in rows and not getattr(args, "audio_only", False):
            descriptors["prompt_words_per_s"] = rows["prompt_words"] / descriptors["duration_s"]
            descriptors["prompt_words_per_speech_s"] = rows["prompt_words"] / descriptors["speech_s"]
        return pd_concat(rows, descriptors, heuristic_subscores(descriptors))

    train = load(args.cv or args.train)
    test = load(args.test) if args.test else None
    return train, test


def _ssl_columns(model_name: str, paths: list[str]):
    """Pooled self-supervised embeddings of the files as columns ``ssl_0 ... ssl_<h-1>``."""
    import pandas as pd

    from audio.decode import decode_audio
    from audio.ssl import load_ssl_model, pooled_embeddings

    embeddings = pooled_embeddings(load_ssl_model(model_name), [decode_audio(p)[0] for p in paths])
    return pd.DataFrame(embeddings, columns=[f"ssl_{k}" for k in range(embeddings.shape[1])]).astype(float)


def pd_concat(*frames):
    """Column-wise concatenation of frames with the same rows."""
    import pandas as pd

    return pd.concat([f.reset_index(drop=True) for f in frames], axis=1)


def _feature_columns(frame) -> list[str]:
    """The head's inputs: every numeric descriptor column, not labels, ratings or sub-scores."""
    skip = {"fluency", "prosodic", "total", "accuracy", "prompt_words", "expressiveness", "confidence"}
    return [c for c in frame.columns if c not in skip and frame[c].dtype.kind == "f"]


def _print_metrics(metrics: dict, keys: list[str]) -> None:
    print(json.dumps(metrics, indent=2))
    print(" ".join(f"{k}={round(metrics[k], 4) if isinstance(metrics[k], float) else metrics[k]}" for k in keys))


def _cmd_evaluate(args) -> int:
    from features.heads import evaluate_emotion, evaluate_fluency

    if bool(args.cv) == bool(args.train):
        print("give either --cv, or --train and --test", file=sys.stderr)
        return 2
    if args.target == "emotion":
        train, test = _emotion_frames(args)
        metrics = evaluate_emotion(train, test, _feature_columns(train), standardise=not args.no_speaker_standardise)
        metrics["uar_ci95_low"], metrics["uar_ci95_high"] = metrics["uar_ci95"]
        _print_metrics(metrics, ["uar", "uar_ci95_low", "uar_ci95_high", "n", "speaker_standardised"])
    else:
        train, test = _fluency_frames(args)
        subs = {"speaking_rate": "speaking_rate_syl_per_s", "pause_ratio": "pause_ratio",
                "expressiveness": "expressiveness", "confidence": "confidence"}
        metrics = evaluate_fluency(train, test, _feature_columns(train), sub_scores=subs)
        metrics["r_ci95_low"], metrics["r_ci95_high"] = metrics["r_ci95"]
        _print_metrics(metrics, ["r", "r_ci95_low", "r_ci95_high", "n"] + [k for k in metrics if k.endswith("_vs_fluency_r")])
    return 0


def _cmd_train(args) -> int:
    from audio.descriptors import DESCRIPTOR_VERSION
    from features.heads import evaluate_emotion, evaluate_fluency, fit_head

    args.cv, args.train, args.test = args.manifest if args.kind == "emotion" else args.dir, None, None
    if args.kind == "emotion":
        frame, _ = _emotion_frames(args)
        features = _feature_columns(frame)
        metrics = evaluate_emotion(frame, None, features, standardise=not args.no_speaker_standardise)
        head = fit_head("emotion", frame, features, DESCRIPTOR_VERSION, metrics, not args.no_speaker_standardise)
        head.ssl_model = args.ssl_model
        keys = ["uar"]
    else:
        frame, _ = _fluency_frames(args)
        features = _feature_columns(frame)
        metrics = evaluate_fluency(frame, None, features)
        head = fit_head("fluency", frame, features, DESCRIPTOR_VERSION, metrics)
        keys = ["r"]
    path = head.save(args.out)
    metrics["model_file"] = str(path)
    _print_metrics(metrics, keys + ["model_file"])
    return 0


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
    for name, kind in (("train-emotion", "emotion"), ("train-fluency", "fluency")):
        p = sub.add_parser(name, help=f"train the {kind} head on descriptors, evaluated on unseen speakers")
        if kind == "emotion":
            p.add_argument("--manifest", required=True, help="CSV with file (relative to the CSV), speaker, label")
            p.add_argument("--ssl-model", help="also train on pooled embeddings of this self-supervised model")
            _corpus_columns(p)
        else:
            p.add_argument("--dir", required=True, help="speechocean762-format folder (subset_manifest.csv)")
            p.add_argument("--audio-only", action="store_true",
                           help="leave out the prompt-text features (for heads used in the pipeline)")
        p.add_argument("--out", required=True, help="folder for the versioned model file and its metrics")
        p.set_defaults(func=_cmd_train, kind=kind)
    p = sub.add_parser("evaluate", help="evaluate a head on speakers never seen in training")
    p.add_argument("target", choices=["emotion", "fluency"])
    p.add_argument("--cv", help="one manifest (emotion) or folder (fluency): speaker-grouped folds")
    p.add_argument("--train")
    p.add_argument("--test")
    p.add_argument("--audio-only", action="store_true", help="fluency: leave out the prompt-text features")
    p.add_argument("--ssl-model", help="emotion: also use pooled embeddings of this self-supervised model")
    _corpus_columns(p)
    p.set_defaults(func=_cmd_evaluate)
    args = parser.parse_args(argv)
    for key, value in _PREFECT_DEFAULTS.items():  # before anything imports prefect
        os.environ.setdefault(key, value)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


def _corpus_columns(p) -> None:
    p.add_argument("--file-col", default="file")
    p.add_argument("--speaker-col", default="speaker")
    p.add_argument("--label-col", default="emotion")
    p.add_argument("--no-speaker-standardise", action="store_true",
                   help="do not standardise features per speaker (emotion)")


if __name__ == "__main__":
    sys.exit(main())
