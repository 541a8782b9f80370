"""The ``engage`` commands that train and evaluate models: the voice heads on speech corpora, and
the score and dropout risk on real withdrawals (OULAD). Parse and dispatch only."""

from __future__ import annotations

import json
import sys


def _corpus_options(args):
    from audio.heads.training import CorpusOptions

    return CorpusOptions(file_col=args.file_col, speaker_col=args.speaker_col, label_col=args.label_col,
                         audio_only=args.audio_only, ssl_model=args.ssl_model,
                         speaker_standardise=not args.no_speaker_standardise)


def _train(args) -> int:
    from audio.heads.training import load_corpus, train_head

    options = _corpus_options(args)
    return _print_metrics(train_head(args.kind, load_corpus(args.kind, args.source, options), args.out, options))


def _evaluate(args) -> int:
    from audio.heads.training import evaluate_head, load_corpus

    if args.target == "engagement":
        from features.scoring.outcomes import evaluate_engagement

        if not args.oulad:
            print("engage evaluate engagement: give --oulad DIR", file=sys.stderr)
            return 2
        return _print_metrics(evaluate_engagement(args.oulad, codes(args.train_presentations) or ("2013B", "2013J"),
                                                  codes(args.test_presentations) or ("2014B",)))
    if args.target == "risk":
        from features.risk.withdrawals import evaluate_risk

        if not (args.train and args.test):
            print("engage evaluate risk: give --train DIR and --test DIR (OULAD's CSV tables)", file=sys.stderr)
            return 2
        return _print_metrics(evaluate_risk(args.train, args.test, codes(args.train_presentations),
                                            codes(args.test_presentations), boot=args.boot))
    if bool(args.cv) == bool(args.train and args.test):
        print("engage evaluate: give either --cv, or --train and --test", file=sys.stderr)
        return 2
    options = _corpus_options(args)
    train = load_corpus(args.target, args.cv or args.train, options, args.train_speakers)
    test = load_corpus(args.target, args.test, options, args.test_speakers) if args.test else None
    return _print_metrics(evaluate_head(args.target, train, test, options))


def codes(text: str | None) -> tuple[str, ...] | None:
    """Return presentation codes from a comma-separated list (None when empty)."""
    return tuple(text.split(",")) if text else None  # "2013B,2013J" -> ("2013B", "2013J")


def _print_metrics(metrics: dict) -> int:
    """Print the metrics as JSON, then a last line of ``key=value`` for every scalar (those of a
    nested section as ``<section>_<key>``); return 0."""
    print(json.dumps(metrics, indent=2))
    flat = {**metrics, **{f"{k}_{inner}": v for k, section in metrics.items() if isinstance(section, dict)
                          for inner, v in section.items()}}
    print(" ".join(f"{k}={round(v, 4) if isinstance(v, float) else v}" for k, v in flat.items()
                   if isinstance(v, (int, float, str))))
    return 0


def add_model_commands(sub) -> None:
    """Add ``train-emotion``, ``train-fluency`` and ``evaluate`` to the ``engage`` subparsers."""
    for kind in ("emotion", "fluency"):
        p = sub.add_parser(f"train-{kind}", help=f"train the {kind} head, evaluated on unseen speakers")
        p.add_argument("--manifest" if kind == "emotion" else "--dir", dest="source", required=True,
                       help="CSV with file (relative to the CSV), speaker, label" if kind == "emotion"
                       else "speechocean762-format folder (subset_manifest.csv)")
        p.add_argument("--out", required=True, help="folder for the versioned model file and its metrics")
        _corpus_arguments(p)
        p.set_defaults(func=_train, kind=kind)
    p = sub.add_parser("evaluate", help="evaluate a head on unseen speakers, or the score and the dropout risk "
                       "on real withdrawals")
    p.add_argument("target", choices=["emotion", "fluency", "engagement", "risk"])
    p.add_argument("--oulad", help="engagement: a folder with OULAD's CSV tables")
    p.add_argument("--train-presentations", help="e.g. 2013B,2013J (engagement default 2013B,2013J; risk: all)")
    p.add_argument("--test-presentations", help="e.g. 2014B (engagement default 2014B; risk: all)")
    p.add_argument("--boot", type=int, default=1000, help="risk: bootstrap resamples for the intervals")
    p.add_argument("--cv", help="one manifest (emotion) or folder (fluency): speaker-grouped folds")
    p.add_argument("--train", help="a corpus; risk: a folder with OULAD's CSV tables")
    p.add_argument("--test", help="a corpus; risk: a folder with OULAD's CSV tables")
    p.add_argument("--train-speakers", help="the speakers of --cv or --train to use: even, odd (last digit of the "
                   "id) or ids, comma-separated")
    p.add_argument("--test-speakers", help="the speakers of --test to use, as --train-speakers")
    _corpus_arguments(p)
    p.set_defaults(func=_evaluate)


def _corpus_arguments(p) -> None:
    p.add_argument("--file-col", default="file")
    p.add_argument("--speaker-col", default="speaker")
    p.add_argument("--label-col", default="emotion")
    p.add_argument("--audio-only", action="store_true", help="fluency: leave out the prompt-text features")
    p.add_argument("--ssl-model", help="also use pooled embeddings of this self-supervised model")
    p.add_argument("--no-speaker-standardise", action="store_true",
                   help="emotion: do not standardise features per speaker")
