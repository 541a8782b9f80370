"""Utterance descriptors for trainable heads: tone features plus spectral statistics.

``extract_descriptors(signal)`` returns the tone features (``audio.tone``) and, over the frames
above the speech threshold of the same spectrum (``audio.spectrum``), the mean, sd, 10th and 90th percentiles of 13
MFCCs, the sd of their deltas, spectral rolloff, flatness, bandwidth and contrast, and
frame-power percentiles.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import pandas as pd

from audio.decode import SAMPLE_RATE, decode_audio
from audio.feature_cache import FeatureCache
from audio.spectrum import N_FFT, spectrum
from audio.tone import TONE_VERSION, extract_tone
from features.parallel import process_map

DESCRIPTOR_VERSION = f"desc-2+{TONE_VERSION}"


def extract_descriptors(signal: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, float]:
    """Return the descriptor dict of one clip (NaN where undefined)."""
    frames = spectrum(signal, sr)
    out = extract_tone(signal, sr, frames)
    if frames is None:
        return out
    spec = frames.power
    speech = frames.above.copy()
    if speech.sum() < 3:
        speech[:] = True
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=spec, sr=sr, n_mels=40))
    mfcc = librosa.feature.mfcc(S=mel, n_mfcc=13)
    if mfcc.shape[1] >= 3:
        delta = librosa.feature.delta(mfcc, width=min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2)))
    else:
        delta = np.zeros_like(mfcc)
    for k in range(13):
        values = mfcc[k, speech]
        out[f"mfcc{k}_all_mean"], out[f"mfcc{k}_all_sd"] = float(values.mean()), float(values.std())
        out[f"mfcc{k}_p10"], out[f"mfcc{k}_p90"] = (float(v) for v in np.percentile(values, [10, 90]))
        out[f"mfcc{k}_delta_sd"] = float(delta[k, speech].std())
    for name, track in (("rolloff_hz", librosa.feature.spectral_rolloff(S=spec, sr=sr)[0]),
                        ("flatness", librosa.feature.spectral_flatness(S=spec)[0]),
                        ("bandwidth_hz", librosa.feature.spectral_bandwidth(S=spec, sr=sr)[0])):
        out[f"{name}_mean"], out[f"{name}_sd"] = float(track[speech].mean()), float(track[speech].std())
    contrast = librosa.feature.spectral_contrast(S=spec, sr=sr, n_fft=N_FFT)
    for k in range(contrast.shape[0]):
        out[f"contrast{k}_mean"] = float(contrast[k, speech].mean())
    for q in (10, 50, 90):
        out[f"power_p{q}_db"] = float(np.percentile(frames.frame_db[speech], q))
    return {k: (v if v is None or not math.isnan(v) else math.nan) for k, v in out.items()}


def describe_file(path: str) -> dict[str, float]:
    """Return the descriptors of one audio file; raises ``audio.decode.DecodeError``."""
    return extract_descriptors(decode_audio(path)[0])


def describe_files(paths: list[str], workers: int | None = None) -> pd.DataFrame:
    """Return a DataFrame of descriptors, one row per path (in order), over worker processes.

    Raises ``audio.decode.DecodeError`` for a file that cannot be decoded.
    """
    return pd.DataFrame(process_map(describe_file, paths, workers=workers, chunksize=8))


def describe_clips(paths: list[str], keys: list[str], cache: FeatureCache,
                   workers: int | None = None) -> tuple[pd.DataFrame, int]:
    """Return (descriptors, one row per path in order, number computed now), reusing those the
    cache holds for ``DESCRIPTOR_VERSION`` under each content key."""
    path_of = dict(zip(keys, paths))

    def compute(todo: list[str]) -> list[dict]:
        frame = describe_files([path_of[k] for k in todo], workers)
        return [{c: (None if pd.isna(v) else float(v)) for c, v in row.items()} for _, row in frame.iterrows()]

    results, computed = cache.compute_missing(keys, DESCRIPTOR_VERSION, compute)
    return pd.DataFrame([results[k] for k in keys]), computed
