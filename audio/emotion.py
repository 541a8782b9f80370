"""Speech emotion with a Hugging Face ``audio-classification`` model, loaded once, run in batches.

``load_emotion_model`` takes a hub id or a local folder; ``classify_emotions`` runs it over many
signals in length-sorted batches (little padding), on CUDA in bf16/fp16 when there is a GPU, on
the CPU in fp32 otherwise. A model that cannot be loaded raises ``EmotionModelUnavailable``
with the reason; callers record that reason and leave emotion columns null.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

log = logging.getLogger(__name__)

DIMENSIONS = ("arousal", "dominance", "valence")


class EmotionModelUnavailable(RuntimeError):
    """The configured emotion model cannot be loaded (offline and not cached, bad folder...)."""


@dataclass
class EmotionModel:
    """A loaded model with what the tables record about it."""

    model: object
    feature_extractor: object
    labels: list[str]
    model_id: str
    revision: str
    device: str
    dtype: object
    is_dimensional: bool = False  # outputs arousal/valence values rather than class scores
    sampling_rate: int = 16_000
    meta: dict = field(default_factory=dict)


def hub_reachable(timeout_s: float = 3.0) -> bool:
    host = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def load_emotion_model(name_or_path: str, device: str | None = None, revision: str | None = None) -> EmotionModel:
    """Load an audio-classification model and its feature extractor once.

    Order: a local folder; else the local Hugging Face cache; else a download when the hub
    answers. ``device`` defaults to CUDA when available.

    Raises:
        EmotionModelUnavailable: the model is neither local nor cached and cannot be downloaded,
            or the files are not an audio-classification model; the message says which.
    """
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    local = Path(name_or_path).is_dir()
    attempts = [True] if local else [True, False]
    last_error: Exception | None = None
    for local_only in attempts:
        if not local_only and not hub_reachable():
            raise EmotionModelUnavailable(
                f"{name_or_path}: not in the local Hugging Face cache and the hub is unreachable (offline)")
        try:
            extractor = AutoFeatureExtractor.from_pretrained(name_or_path, revision=revision,
                                                             local_files_only=local_only)
            model = AutoModelForAudioClassification.from_pretrained(
                name_or_path, revision=revision, local_files_only=local_only, dtype=dtype)
            break
        except (OSError, ValueError, KeyError) as exc:
            last_error = exc
    else:
        raise EmotionModelUnavailable(f"{name_or_path}: {type(last_error).__name__}: "
                                      f"{str(last_error).splitlines()[0][:300]}")
    model.eval().to(device)
    config = model.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    dimensional = config.problem_type == "regression" or set(map(str.lower, labels)) <= set(DIMENSIONS)
    commit = getattr(config, "_commit_hash", None)
    return EmotionModel(model=model, feature_extractor=extractor, labels=labels,
                        model_id=str(name_or_path), revision=commit or revision or ("local" if local else "unknown"),
                        device=device, dtype=dtype, is_dimensional=dimensional,
                        sampling_rate=int(getattr(extractor, "sampling_rate", 16_000)))


def forward_batches(model, extractor, signals: list[np.ndarray], batch_size: int, device: str, dtype,
                    sampling_rate: int = 16_000, max_seconds: float = 20.0):
    """Yield ``(indices, model outputs, attention mask)`` over length-sorted batches (little
    padding) of 16 kHz signals, each cut to ``max_seconds``; inference mode, no gradients."""
    import torch

    limit = int(max_seconds * sampling_rate)
    order = np.argsort([len(s) for s in signals], kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        inputs = extractor([np.asarray(signals[i][:limit], dtype=np.float32) for i in idx],
                           sampling_rate=sampling_rate, padding=True, return_attention_mask=True,
                           return_tensors="pt")
        inputs = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in inputs.items()}
        with torch.inference_mode():
            yield idx, model(**inputs), inputs.get("attention_mask")


def classify_emotions(model: EmotionModel, signals: list[np.ndarray], batch_size: int = 16,
                      max_seconds: float = 20.0) -> list[dict[str, float]]:
    """Return one ``label -> probability`` dict per signal (``label -> value`` for dimensional
    models), in input order. Signals are 16 kHz mono; each is cut to ``max_seconds``."""
    import torch

    results: list[dict[str, float] | None] = [None] * len(signals)
    for idx, out, _ in forward_batches(model.model, model.feature_extractor, signals, batch_size,
                                       model.device, model.dtype, model.sampling_rate, max_seconds):
        logits = out.logits.float()
        values = logits if model.is_dimensional else torch.softmax(logits, dim=-1)
        for i, row in zip(idx, values.cpu().numpy()):
            results[i] = {label: float(v) for label, v in zip(model.labels, row)}
    return results  # type: ignore[return-value]
