"""Speech emotion with a Hugging Face ``audio-classification`` model, loaded once, run in batches.

``load_emotion_model`` takes a hub id or a local folder (``audio.pretrained``);
``classify_emotions`` runs it over many signals in length-sorted batches, on CUDA in bf16/fp16
when there is a GPU, on the CPU in fp32 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
from annotated_types import Ge

from audio.pretrained import Pretrained, forward_batches, load_pretrained

DIMENSIONS = ("arousal", "dominance", "valence")


@dataclass(frozen=True)
class EmotionOptions:
    """Which emotion model runs and how (the ``emotion`` config section).

    ``model``: a Hugging Face id or local folder (None: no emotion analysis); ``languages``: the
    course languages it covers (others get ``language_not_covered``); ``device``: None picks
    CUDA when available.
    """

    model: str | None = None
    revision: str | None = None
    languages: tuple[str, ...] = ("en",)
    batch_size: Annotated[int, Ge(1)] = 16
    device: str | None = None


@dataclass
class EmotionModel:
    """A loaded classifier and what the tables record about it."""

    loaded: Pretrained
    labels: list[str]
    is_dimensional: bool = False  # outputs arousal/valence values rather than class scores

    @property
    def model_id(self) -> str:
        return self.loaded.name

    @property
    def revision(self) -> str:
        return self.loaded.revision

    @property
    def device(self) -> str:
        return self.loaded.device

    @property
    def dtype(self):
        return self.loaded.dtype


def load_emotion_model(name_or_path: str, device: str | None = None, revision: str | None = None) -> EmotionModel:
    """Load an audio-classification model once; raises ``audio.pretrained.ModelUnavailable``
    with the reason when it cannot be loaded."""
    from transformers import AutoModelForAudioClassification

    loaded = load_pretrained(name_or_path, AutoModelForAudioClassification, device, revision)
    config = loaded.model.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    dimensional = config.problem_type == "regression" or set(map(str.lower, labels)) <= set(DIMENSIONS)
    return EmotionModel(loaded, labels, dimensional)


def classify_emotions(model: EmotionModel, signals: list[np.ndarray], batch_size: int = 16,
                      max_seconds: float = 20.0) -> list[dict[str, float]]:
    """Return one ``label -> probability`` dict per signal (``label -> value`` for dimensional
    models), in input order. Signals are 16 kHz mono; each is cut to ``max_seconds``."""
    import torch

    results: list[dict[str, float] | None] = [None] * len(signals)
    for idx, out, _ in forward_batches(model.loaded, signals, batch_size, max_seconds):
        logits = out.logits.float()
        values = logits if model.is_dimensional else torch.softmax(logits, dim=-1)
        for i, row in zip(idx, values.cpu().numpy()):
            results[i] = {label: float(v) for label, v in zip(model.labels, row)}
    return results  # type: ignore[return-value]
