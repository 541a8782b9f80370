"""Pooled embeddings from a self-supervised speech model (wav2vec2, HuBERT, WavLM...).

Optional inputs for the trainable heads: the mean of the model's last hidden states over the
clip's real (unpadded) frames. The model is loaded once, by hub id or local folder
(``audio.pretrained``); offline and not cached, loading raises ``ModelUnavailable``.
"""

from __future__ import annotations

import numpy as np

from audio.pretrained import Pretrained, forward_batches, load_pretrained


def load_ssl_model(name_or_path: str, device: str | None = None) -> Pretrained:
    """Load the base model (no task head) once; raises ``ModelUnavailable`` with the reason."""
    from transformers import AutoModel

    return load_pretrained(name_or_path, AutoModel, device)


def pooled_embeddings(ssl: Pretrained, signals: list[np.ndarray], batch_size: int = 8) -> np.ndarray:
    """Return an ``(n, hidden)`` array: each signal's mean last hidden state over its frames."""
    out = None
    for idx, result, mask in forward_batches(ssl, signals, batch_size):
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
