"""Utterance descriptors for trainable heads: tone features plus spectral statistics.

``extract_descriptors(signal)`` returns the tone features (``audio.tone``) and, over speech
frames, the mean, sd, 10th and 90th percentiles of 13 MFCCs, the sd of their deltas, spectral
rolloff, flatness, bandwidth and contrast, and frame-power percentiles.
"""

from __future__ import annotations

import math

import librosa
import numpy as np

from audio.decode import FRAME, HOP, SAMPLE_RATE
from audio.tone import TONE_VERSION, extract_tone

DESCRIPTOR_VERSION = f"desc-1+{TONE_VERSION}"


def extract_descriptors(signal: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, float]:
    """Return the descriptor dict of one clip (NaN where undefined)."""
    out = extract_tone(signal, sr)
    if len(signal) < FRAME * 2:
        return out
    spec = np.abs(librosa.stft(signal, n_fft=512, hop_length=HOP, win_length=FRAME)) ** 2
    power_db = 10 * np.log10(spec.sum(0) + 1e-10)
    speech = power_db > max(np.percentile(power_db, 10) + 6, power_db.max() - 35)
    if speech.sum() < 3:
        speech[:] = True
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=spec, sr=sr, n_mels=40))
    mfcc = librosa.feature.mfcc(S=mel, n_mfcc=13)
    delta = librosa.feature.delta(mfcc, width=min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2)) if mfcc.shape[1] >= 3 else 3) \
        if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    for k in range(13):
        values = mfcc[k, speech]
        out[f"mfcc{k}_all_mean"], out[f"mfcc{k}_all_sd"] = float(values.mean()), float(values.std())
        out[f"mfcc{k}_p10"], out[f"mfcc{k}_p90"] = (float(v) for v in np.percentile(values, [10, 90]))
        out[f"mfcc{k}_delta_sd"] = float(delta[k, speech].std())
    for name, track in (("rolloff_hz", librosa.feature.spectral_rolloff(S=spec, sr=sr)[0]),
                        ("flatness", librosa.feature.spectral_flatness(S=spec)[0]),
                        ("bandwidth_hz", librosa.feature.spectral_bandwidth(S=spec, sr=sr)[0])):
        out[f"{name}_mean"], out[f"{name}_sd"] = float(track[speech].mean()), float(track[speech].std())
    contrast = librosa.feature.spectral_contrast(S=spec, sr=sr, n_fft=512)
    for k in range(contrast.shape[0]):
        out[f"contrast{k}_mean"] = float(contrast[k, speech].mean())
    for q in (10, 50, 90):
        out[f"power_p{q}_db"] = float(np.percentile(power_db[speech], q))
    return {k: (v if v is None or not math.isnan(v) else math.nan) for k, v in out.items()}


def _describe_file(path: str) -> dict[str, float]:
    from audio.decode import decode_audio

    return extract_descriptors(decode_audio(path)[0])


def describe_files(paths: list[str], workers: int | None = None):
    """Return a DataFrame of descriptors, one row per path (in order), over worker processes.

    Raises ``audio.decode.DecodeError`` for a file that cannot be decoded.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd

    from audio.analysis import one_native_thread

    if workers == 1 or len(paths) < 8:
        rows = [_describe_file(p) for p in paths]
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=one_native_thread) as pool:
            rows = list(pool.map(_describe_file, paths, chunksize=8))
    return pd.DataFrame(rows)


def describe_clips(paths: list[str], keys: list[str], cache, workers: int | None = None):
    """Return descriptors for clips (one row per path, in order), reusing those the
    ``audio.analysis.FeatureCache`` holds for ``DESCRIPTOR_VERSION`` under each content key;
    returns (DataFrame, number computed now)."""
    import pandas as pd

    cached = cache.get_many(sorted(set(keys)), DESCRIPTOR_VERSION)
    todo = sorted({k: p for k, p in zip(keys, paths) if k not in cached}.items())
    fresh = {}
    if todo:
        frame = describe_files([p for _, p in todo], workers)
        fresh = {k: {c: (None if pd.isna(v) else float(v)) for c, v in row.items()}
                 for (k, _), (_, row) in zip(todo, frame.iterrows())}
        cache.put_many(fresh, DESCRIPTOR_VERSION)
    every = {**cached, **fresh}
    return pd.DataFrame([every[k] for k in keys]), len(todo)
