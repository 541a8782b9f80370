"""A fitted head, its file, and applying it to the pipeline's clips."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audio.descriptors import DESCRIPTOR_VERSION
from features.errors import EngageError

HEAD_FORMAT = 1


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

    def predict(self, descriptors: pd.DataFrame, speakers=None) -> np.ndarray:
        """Return labels (emotion) or scores (fluency) for rows of descriptors; a descriptor
        the head needs but the frame lacks (e.g. prompt features) counts as unknown."""
        frame = descriptors.reindex(columns=self.features)
        return self.model.predict(prepare(frame, speakers if self.speaker_standardised else None))

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
    """Return ``<file name>@<first 8 hex of its sha256>``: names the head a run used."""
    import hashlib

    path = Path(path)
    return f"{path.name}@{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"


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
