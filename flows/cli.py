"""The ``engage`` command: parse the arguments and hand each subcommand to one library function.

Every ``EngageError`` (bad config, curriculum, corpus, head file, failed quality gate, ...)
ends as exit code 2 with its one-line message; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path

from flows.cli_models import add_model_commands, codes
from flows.prefect_env import apply_prefect_defaults


def _simulate(args) -> int:
    from features.simulation.publish import simulate_platform

    summary = simulate_platform(Path(args.out), args.learners, args.seed, args.weeks,
                                None if args.local else args.bucket, signup_spread_days=args.signup_spread_days)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
    return 0


def _run(args) -> int:
    from flows.engagement import run_pipeline
    from outputs.summary import run_lines

    print("\n".join(run_lines(run_pipeline(args.config, args.as_of, args.run_date))))
    return 0


def _demo(args) -> int:
    from flows.demo import run_demo
    from outputs.summary import risk_training_line, run_lines

    demo = run_demo(args.workdir, args.learners, args.seed)
    if demo["simulated"]:
        s = demo["simulated"]
        print(f"simulated {s['learners']} learners: {s['clips']} clips ({s['audio_seconds']} s of audio), "
              f"{s['planted_records']} planted problems; took {demo['seconds']:.0f} s")
    if demo["risk_training"]:
        print(demo["risk_training"].get("error") or risk_training_line(demo["risk_training"]))
    print(f"config: {demo['config']}\nground truth (never read by the pipeline): {demo['truth']}")
    print("\n".join(run_lines(demo["manifest"])))
    return 0


def _train_risk(args) -> int:
    from flows.train_risk import run_train_risk
    from outputs.summary import risk_training_line

    result = run_train_risk(args.config, args.run_date)
    print(json.dumps({k: result["report"][k] for k in ("slices", "baseline_logistic", "by_week", "reliability")}))
    print(f"risk model {result['version']} in {result['folder']} (its report: metadata.json there)")
    print(risk_training_line(result))
    return 0 if result["promoted"] else 1


def _nudges(args) -> int:
    from flows.config import load_config
    from outputs.summary import nudge_lines
    from outputs.tables import read_partition

    rows = read_partition(load_config(args.config).output.root, "nudges", args.run_date,
                          filters=[("user_id", "=", args.learner)]).to_pylist()
    print("\n".join(nudge_lines(args.learner, rows)))
    return 0


def _report(args) -> int:
    from flows.report import rebuild_report
    from outputs.summary import report_lines

    print("\n".join(report_lines(rebuild_report(args.config, args.run_date))))
    return 0


def _purge(args) -> int:
    from flows.purge import purge_learner

    done = purge_learner(args.config, args.learner)
    print(f"purged: rows {done['rows_removed'] or 'none'}; cached audio files {done['cached_audio_files']}, "
          f"cached results {done['cached_results']}; reports rebuilt {len(done['reports_rebuilt'])}")
    return 0


def _fit_scoring(args) -> int:
    from features.registry import Registry
    from features.scoring.reference import fit_and_save
    from flows.config import load_config
    from outputs.tables import read_partition

    config = load_config(args.config)
    entry = fit_and_save(read_partition(config.output.root, "phase_activity", args.run_date),
                         Registry(config.registry_root), promote=not args.candidate)
    print(f"scoring reference {entry.version} ({'candidate' if args.candidate else 'current'}) in {entry.folder}")
    return 0


def _import_oulad(args) -> int:
    from features.oulad import import_oulad

    done = import_oulad(args.source, args.out, codes(args.presentations))
    print(f"{len(done.telemetry)} telemetry files, curriculum {done.curriculum}; run: engage run --config {done.config}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the ``engage`` argument parser (one subparser per command)."""
    parser = argparse.ArgumentParser(prog="engage", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the pipeline on a platform's config")
    p.add_argument("--config", required=True, help="the run's YAML config (see docs/config.md)")
    p.add_argument("--as-of", type=datetime.fromisoformat, dest="as_of")
    p.add_argument("--run-date", type=date.fromisoformat, dest="run_date")
    p.set_defaults(func=_run)
    p = sub.add_parser("demo", help="start the storage emulator, simulate (once) and run the demo platform")
    p.add_argument("--workdir", default=".demo")
    p.add_argument("--learners", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_demo)
    p = sub.add_parser("simulate", help="simulate a demo platform (telemetry, audio, ground truth)")
    p.add_argument("--out", required=True)
    p.add_argument("--learners", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--weeks", type=int, default=12)
    p.add_argument("--bucket", default="engage-demo", help="upload to gs://BUCKET (needs STORAGE_EMULATOR_HOST or credentials)")
    p.add_argument("--signup-spread-days", type=int, default=21, dest="signup_spread_days",
                   help="learners sign up over this many days")
    p.add_argument("--local", action="store_true", help="write audio to OUT/audio instead of a bucket")
    p.set_defaults(func=_simulate)
    for name, func, text in (
            ("train-risk", _train_risk, "train the dropout-risk model on a run's history (exit 1: saved, not promoted)"),
            ("nudges", _nudges, "print one learner's nudges and their reasons from a run's tables"),
            ("report", _report, "rebuild a run's insight report from its tables and recorded models"),
            ("fit-scoring", _fit_scoring, "fit the scoring reference on a run's phase activity"),
            ("purge", _purge, "erase one learner from every table, export, cache and report")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", required=True)
        if name != "purge":
            p.add_argument("--run-date", type=date.fromisoformat, dest="run_date", help="default: the latest run")
        p.set_defaults(func=func)
    for name in ("nudges", "purge"):
        sub.choices[name].add_argument("--learner", required=True, help="the learner's user_id")
    sub.choices["fit-scoring"].add_argument("--candidate", action="store_true", help="save it without making it current")
    p = sub.add_parser("import-oulad", help="turn OULAD's tables into telemetry, a curriculum and a run config")
    p.add_argument("source", help="a folder with OULAD's CSV tables")
    p.add_argument("--out", required=True)
    p.add_argument("--presentations", help="e.g. 2013B,2013J (default: all)")
    p.set_defaults(func=_import_oulad)
    add_model_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``engage`` console script; returns the exit code."""
    from features.errors import EngageError

    args = build_parser().parse_args(argv)
    apply_prefect_defaults()  # before anything imports prefect
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except EngageError as exc:
        print(f"engage {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
