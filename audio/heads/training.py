"""Train and evaluate heads from a corpus on disk: the library behind ``engage train-*`` and
``engage evaluate``.

A corpus becomes a ``Corpus``: who said what with which ratings or labels (``rows``) and the
head's inputs (``inputs``: descriptors, the known prompt's words per second and forced-alignment
features, optional pooled self-supervised embeddings). Labels and inputs never share a frame, so
nothing has to be skipped by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audio.descriptors import DESCRIPTOR_VERSION, describe_files
from audio.heads.corpora import heuristic_subscores, read_labelled_manifest, read_rated_folder, select_speakers
from audio.heads.evaluation import evaluate_emotion, evaluate_fluency, fit_head
from audio.heads.model import PROMPT_FEATURES, with_prompt_inputs

# Heuristic sub-scores reported beside the fluency evaluation: name -> column.
FLUENCY_SUB_SCORES = {"speaking_rate": "speaking_rate_syl_per_s", "pause_ratio": "pause_ratio",
                      "expressiveness": "expressiveness", "confidence": "confidence"}


@dataclass(frozen=True)
class CorpusOptions:
    """How a corpus is read: the emotion manifest's column names, whether the fluency head
    may use the prompt text (``audio_only`` leaves it out), and an
    optional self-supervised model whose pooled embeddings join the inputs."""

    file_col: str = "file"
    speaker_col: str = "speaker"
    label_col: str = "emotion"
    audio_only: bool = False
    ssl_model: str | None = None
    speaker_standardise: bool = True


@dataclass
class Corpus:
    """Rows (path, speaker, labels or ratings, sub-scores) and the head's inputs, row-aligned."""

    rows: pd.DataFrame
    inputs: pd.DataFrame

    def frame(self) -> pd.DataFrame:
        """Rows and inputs side by side."""
        return pd.concat([self.rows.reset_index(drop=True), self.inputs.reset_index(drop=True)], axis=1)


def load_corpus(kind: str, source: str | Path, options: CorpusOptions = CorpusOptions(),
                speakers: str | None = None) -> Corpus:
    """Read an emotion manifest CSV or a speechocean762-format folder (``kind`` ``emotion`` or
    ``fluency``), keep the ``speakers`` named (``even``, ``odd`` or ids; see
    ``corpora.select_speakers``), and compute the inputs of every clip.

    Raises ``audio.heads.corpora.CorpusError`` for a manifest without its columns or files, or a
    speaker choice that selects nothing; ``audio.decode.DecodeError`` for audio that cannot be
    decoded.
    """
    if kind == "emotion":
        rows = read_labelled_manifest(source, options.file_col, options.speaker_col, options.label_col)
    else:
        rows = read_rated_folder(source)
    rows = select_speakers(rows, speakers, source)
    inputs = describe_files(list(rows["path"]))
    if kind == "fluency":
        rows = pd.concat([rows, heuristic_subscores(inputs)], axis=1)
        if "prompt_words" in rows and not options.audio_only:
            from audio.alignment import align_files

            aligned = pd.DataFrame(align_files(list(rows["path"]), list(rows["text"])))
            inputs = with_prompt_inputs(inputs, rows["prompt_words"], aligned)
    if options.ssl_model:
        inputs = pd.concat([inputs, ssl_columns(options.ssl_model, list(rows["path"]))], axis=1)
    return Corpus(rows, inputs.astype(float))


def ssl_columns(model_name: str, paths: list[str]) -> pd.DataFrame:
    """Return pooled self-supervised embeddings of the files as columns ``ssl_0 ...``; raises
    ``audio.pretrained.ModelUnavailable`` when the model cannot be loaded."""
    from audio.decode import decode_audio
    from audio.ssl import load_ssl_model, pooled_embeddings

    embeddings = pooled_embeddings(load_ssl_model(model_name), [decode_audio(p)[0] for p in paths])
    return pd.DataFrame(embeddings, columns=[f"ssl_{k}" for k in range(embeddings.shape[1])]).astype(float)


def evaluate_head(kind: str, train: Corpus, test: Corpus | None = None,
                  options: CorpusOptions = CorpusOptions()) -> dict:
    """Return the head's metrics on speakers it never saw: speaker-grouped folds inside
    ``train``, or trained on ``train`` and scored on ``test``. A fluency corpus with the prompt
    features is also evaluated without them (``without_prompt``: what responses with no prompt
    text get)."""
    features = list(train.inputs.columns)
    test_frame = test.frame() if test is not None else None
    if kind == "emotion":
        return evaluate_emotion(train.frame(), test_frame, features, standardise=options.speaker_standardise)
    metrics = evaluate_fluency(train.frame(), test_frame, features, sub_scores=FLUENCY_SUB_SCORES)
    audio_only = [c for c in features if c not in PROMPT_FEATURES]
    if len(audio_only) < len(features):
        without = evaluate_fluency(train.frame(), test_frame, audio_only)
        metrics["without_prompt"] = {k: v for k, v in without.items() if "_vs_" not in k}
    return metrics


def train_head(kind: str, corpus: Corpus, out: str | Path, options: CorpusOptions = CorpusOptions()) -> dict:
    """Evaluate on unseen speakers, fit on the whole corpus, save the head into ``out``;
    return the metrics with ``model_file``."""
    metrics = evaluate_head(kind, corpus, None, options)
    head = fit_head(kind, corpus.frame(), list(corpus.inputs.columns), DESCRIPTOR_VERSION, metrics,
                    options.speaker_standardise)
    head.ssl_model = options.ssl_model
    if kind == "fluency" and any(c in PROMPT_FEATURES for c in head.features):
        head.fallback = fit_head(kind, corpus.frame(), [c for c in head.features if c not in PROMPT_FEATURES],
                                 DESCRIPTOR_VERSION, metrics.get("without_prompt", {}))
    return {**metrics, "model_file": str(head.save(out))}
