"""A fitted head, its file, and applying it to the pipeline's clips."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audio.alignment import ALIGNMENT_FEATURES, ALIGNMENT_VERSION
from audio.descriptors import DESCRIPTOR_VERSION
from features.errors import EngageError

HEAD_FORMAT = 1
# Inputs only a response with a known prompt text has: the prompt's words per second of answer
# and of speech, and the forced alignment's features.
PROMPT_FEATURES = ("prompt_words_per_s", "prompt_words_per_speech_s", *ALIGNMENT_FEATURES)


class HeadFileError(EngageError):
    """A head file that is missing, not an engage head, or made for other descriptors."""


@dataclass
class Head:
    """A fitted head: what it predicts, from which descriptor columns, and how it was judged."""

    kind: str  # "emotion" | "fluency"
    model: object
    features: list[str]
    labels: list[str] = field(default_factory=list)
    speaker_standardised: bool = False
    descriptor_version: str = ""
    metrics: dict = field(default_factory=dict)
    ssl_model: str | None = None  # inputs include its pooled embeddings (columns ssl_*)
    fallback: Head | None = None  # for rows without the prompt features: a head fitted without them

    def predict(self, descriptors: pd.DataFrame, speakers=None) -> np.ndarray:
        """Return labels (emotion) or scores (fluency) for rows of descriptors. Rows with none
        of the head's ``PROMPT_FEATURES`` (no prompt text) get the ``fallback`` head's output;
        any other descriptor the frame lacks counts as unknown."""
        frame = descriptors.reindex(columns=self.features)
        out = self.model.predict(prepare(frame, speakers if self.speaker_standardised else None))
        prompt = [c for c in self.features if c in PROMPT_FEATURES]
        if self.fallback is not None and prompt:
            without = frame[prompt].isna().all(axis=1).to_numpy()
            if without.any():
                out = out.astype(float)
                out[without] = self.fallback.predict(descriptors[without])
        return out

    def save(self, folder: str | Path) -> Path:
        """Write ``<kind>-head-v<format>.joblib`` and its metrics JSON into ``folder``."""
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.kind}-head-v{HEAD_FORMAT}.joblib"
        joblib.dump(self, path)
        (folder / f"{self.kind}-head-v{HEAD_FORMAT}.metrics.json").write_text(json.dumps(self.metrics, indent=2))
        return path


def load_head(path: str | Path, kind: str | None = None) -> Head:
    """Load a head saved by ``Head.save`` (of ``kind`` when given).

    Raises:
        HeadFileError: no such file, a file that is not an engage head (or not of ``kind``),
            or a head trained on other descriptors than this engage computes.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise HeadFileError(f"{path}: no such head file")
    try:
        head = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a head file"
        raise HeadFileError(f"{path}: not an engage head file ({type(exc).__name__})") from None
    if not isinstance(head, Head) or (kind and head.kind != kind):
        raise HeadFileError(f"{path}: not an engage {kind or ''} head file".replace("  ", " "))
    if head.descriptor_version != DESCRIPTOR_VERSION:
        raise HeadFileError(f"{path}: trained on descriptors {head.descriptor_version!r}, this engage computes "
                            f"{DESCRIPTOR_VERSION!r}; retrain it with engage train-{head.kind}")
    return head


def head_id(path: str | Path) -> str:
    """Return ``<file name>@<first 8 hex of its sha256>``, plus ``+<alignment version>`` for a
    head that uses the prompt features (its scores change when the alignment does): names the
    head a run used. Raises ``HeadFileError`` as ``load_head`` does."""
    import hashlib

    path = Path(path)
    uses_prompt = any(f in PROMPT_FEATURES for f in load_head(path).features)
    return (f"{path.name}@{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"
            + (f"+{ALIGNMENT_VERSION}" if uses_prompt else ""))


def with_prompt_inputs(descriptors: pd.DataFrame, prompt_words, alignment: pd.DataFrame) -> pd.DataFrame:
    """Return ``descriptors`` (``duration_s`` and ``speech_s`` among them) with the
    ``PROMPT_FEATURES`` added from the prompt's word count per row (NaN without a text) and the
    rows' ``audio.alignment`` features (row-aligned)."""
    words = np.asarray(prompt_words, dtype=float)
    out = descriptors.assign(prompt_words_per_s=words / descriptors["duration_s"].to_numpy(dtype=float),
                             prompt_words_per_speech_s=words / descriptors["speech_s"].to_numpy(dtype=float))
    aligned = alignment.reindex(columns=list(ALIGNMENT_FEATURES)).astype(float).set_axis(out.index)
    return pd.concat([out, aligned], axis=1)


def prepare(X: pd.DataFrame, speakers=None) -> pd.DataFrame:
    """Fill undefined values with column medians; standardise within speaker when given."""
    X = X.astype(float)
    X = X.fillna(X.median()).fillna(0.0)
    if speakers is not None:
        groups = np.asarray(speakers, dtype=str)
        X = X.groupby(groups).transform(lambda c: (c - c.mean()) / (c.std(ddof=0) + 1e-9))
    return X


def apply_heads(descriptors: pd.DataFrame, learners, fluency: Head | None, emotion: Head | None) -> pd.DataFrame:
    """Return ``fluency_score`` (the expert scale the head was trained on) and
    ``head_emotion_label``/``head_emotion_confidence`` per row (null without that head).
    Emotion features are standardised per learner, as in training per speaker."""
    out = pd.DataFrame(index=descriptors.index)
    out["fluency_score"] = fluency.predict(descriptors) if fluency is not None and len(descriptors) else np.nan
    if emotion is not None and len(descriptors):
        X = prepare(descriptors.reindex(columns=emotion.features), learners if emotion.speaker_standardised else None)
        proba = emotion.model.predict_proba(X)
        classes = np.asarray(emotion.model.classes_)
        out["head_emotion_label"] = classes[proba.argmax(axis=1)]
        out["head_emotion_confidence"] = proba.max(axis=1)
    else:
        out["head_emotion_label"], out["head_emotion_confidence"] = None, np.nan
    return out
