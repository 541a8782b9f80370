"""Pretrained speech models from Hugging Face transformers: one loader, one device choice, one
batched forward pass, shared by the emotion runner and the self-supervised embeddings.

A model is found in a local folder, else the local Hugging Face cache, else downloaded when the
hub answers. Offline and not cached, loading raises ``ModelUnavailable`` with the reason; the
callers record it as a status and never make numbers up.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from features.errors import EngageError

# Padded audio per batch on the CPU, chosen by benchmarks/audio.py (docs/benchmarks.md).
CPU_BATCH_SECONDS = 2.0
_THREADS_LOCK = threading.Lock()


class ModelUnavailable(EngageError):
    """A configured model cannot be loaded (offline and not cached, a broken folder, ...)."""


@dataclass
class Pretrained:
    """A loaded model and its feature extractor, where it runs, and what it was loaded from."""

    model: object
    extractor: object
    name: str
    revision: str
    device: str
    dtype: object
    sampling_rate: int = 16_000


def choose_device(device: str | None = None) -> tuple[str, object]:
    """Return (device, dtype): CUDA in bf16 (fp16 where bf16 is unsupported) when available or
    asked for, else the CPU in fp32."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return device, torch.float32


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Return whether the Hugging Face hub (or ``HF_ENDPOINT``) accepts a connection."""
    host = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def load_pretrained(name_or_path: str, model_class, device: str | None = None,
                    revision: str | None = None) -> Pretrained:
    """Load ``model_class`` (e.g. ``AutoModelForAudioClassification``) and its feature extractor
    once, in eval mode on ``device`` (default: ``choose_device``).

    Raises:
        ModelUnavailable: neither local nor cached and the hub is unreachable, or the files are
            not such a model; the message names the model and the reason.
    """
    from transformers import AutoFeatureExtractor

    device, dtype = choose_device(device)
    local = Path(name_or_path).is_dir()
    last_error: Exception | None = None
    for local_only in ([True] if local else [True, False]):
        if not local_only and not hub_reachable():
            raise ModelUnavailable(
                f"{name_or_path}: not in the local Hugging Face cache and the hub is unreachable (offline)")
        try:
            extractor = AutoFeatureExtractor.from_pretrained(name_or_path, revision=revision,
                                                             local_files_only=local_only)
            model = model_class.from_pretrained(name_or_path, revision=revision,
                                                local_files_only=local_only, dtype=dtype)
            break
        except (OSError, ValueError, KeyError) as exc:
            last_error = exc
    else:
        raise ModelUnavailable(f"{name_or_path}: {type(last_error).__name__}: "
                               f"{str(last_error).splitlines()[0][:300]}")
    commit = getattr(model.config, "_commit_hash", None)
    return Pretrained(model=model.eval().to(device), extractor=extractor, name=str(name_or_path),
                      revision=commit or revision or ("local" if local else "unknown"), device=device,
                      dtype=dtype, sampling_rate=int(getattr(extractor, "sampling_rate", 16_000)))


def forward_batches(loaded: Pretrained, signals: list[np.ndarray], batch_size: int,
                    max_seconds: float = 20.0):
    """Yield ``(indices, model outputs, attention mask)`` over length-sorted batches (little
    padding) of 16 kHz signals, each cut to ``max_seconds``; inference mode, no gradients.

    A batch holds at most ``batch_size`` signals and, on the CPU, at most ``CPU_BATCH_SECONDS``
    of padded audio: there a large batch is slower than one clip at a time, as the convolutional
    encoder's activations (512 channels at 3.2 kHz per clip) outgrow the caches; only clips
    under a second share a pass. The CPU batches also run side by side, one per torch thread,
    each pass on one thread: 6-22% more throughput here than one pass at a time on all threads
    (docs/benchmarks.md)."""
    import torch

    limit = int(max_seconds * loaded.sampling_rate)
    lengths = np.array([min(len(s), limit) for s in signals])
    order = np.argsort(lengths, kind="stable")
    budget = CPU_BATCH_SECONDS * loaded.sampling_rate if loaded.device == "cpu" else np.inf
    batches, start = [], 0
    while start < len(order):
        end = start + 1  # sorted: the batch's last signal is its longest
        while end < len(order) and end - start < batch_size and (end - start + 1) * lengths[order[end]] <= budget:
            end += 1
        batches.append(order[start:end])
        start = end

    def forward(idx):
        inputs = loaded.extractor([np.asarray(signals[i][:limit], dtype=np.float32) for i in idx],
                                  sampling_rate=loaded.sampling_rate, padding=True,
                                  return_attention_mask=True, return_tensors="pt")
        inputs = {k: (v.to(loaded.device, loaded.dtype) if v.is_floating_point() else v.to(loaded.device))
                  for k, v in inputs.items()}
        with torch.inference_mode():
            return idx, loaded.model(**inputs), inputs.get("attention_mask")

    threads = torch.get_num_threads()
    if loaded.device != "cpu" or threads < 2 or len(batches) < 2:
        yield from map(forward, batches)
        return
    from concurrent.futures import ThreadPoolExecutor

    with _THREADS_LOCK:  # torch's thread count is the process's: one caller at a time changes it
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(threads) as pool:
                yield from pool.map(forward, batches)
        finally:
            torch.set_num_threads(threads)
