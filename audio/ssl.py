"""Pooled embeddings from a self-supervised speech model (wav2vec2, HuBERT, WavLM...).

Optional inputs for the trainable heads: the mean of the model's last hidden states over the
clip's real (unpadded) frames. The model is loaded once, by hub id or local folder, like the
emotion model; offline and not cached, loading raises ``EmotionModelUnavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.emotion import EmotionModelUnavailable, hub_reachable, forward_batches


@dataclass
class SslModel:
    """A loaded self-supervised model and its feature extractor."""

    model: object
    extractor: object
    name: str
    device: str
    dtype: object


def load_ssl_model(name_or_path: str, device: str | None = None) -> SslModel:
    """Load the base model (no task head) once; raises EmotionModelUnavailable with the reason."""
    from pathlib import Path

    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device.startswith("cuda") else torch.float32
    local_only = Path(name_or_path).is_dir() or not hub_reachable()
    try:
        extractor = AutoFeatureExtractor.from_pretrained(name_or_path, local_files_only=local_only)
        model = AutoModel.from_pretrained(name_or_path, local_files_only=local_only, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise EmotionModelUnavailable(f"{name_or_path}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    return SslModel(model.eval().to(device), extractor, str(name_or_path), device, dtype)


def pooled_embeddings(ssl: SslModel, signals: list[np.ndarray], batch_size: int = 8) -> np.ndarray:
    """Return an ``(n, hidden)`` array: each signal's mean last hidden state over its frames."""
    out = None
    for idx, result, mask in forward_batches(ssl.model, ssl.extractor, signals, batch_size, ssl.device, ssl.dtype):
        hidden = result.last_hidden_state.float()
        if mask is not None and hasattr(ssl.model, "_get_feature_vector_attention_mask"):
            frames = ssl.model._get_feature_vector_attention_mask(hidden.shape[1], mask).unsqueeze(-1).float()
            pooled = (hidden * frames).sum(1) / frames.sum(1).clamp(min=1)
        else:
            pooled = hidden.mean(1)
        if out is None:
            out = np.zeros((len(signals), pooled.shape[1]), dtype=np.float32)
        out[idx] = pooled.cpu().numpy()
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)
