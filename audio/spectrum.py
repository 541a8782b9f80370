"""The power spectrogram and speech frames of a clip: computed once, read by tone features and
descriptors alike (25 ms Hann frames every 10 ms, 512-point FFT)."""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from audio.decode import FRAME, HOP, SAMPLE_RATE

N_FFT = 512
MIN_PAUSE_S = 0.15  # shorter dips inside speech are syllable gaps, not pauses


@dataclass
class Spectrum:
    """A clip's frames: ``power`` (bins x frames), ``frame_power`` and ``frame_db`` (dBFS) per
    frame, the ``threshold_db`` of speech, the frames ``above`` it, and the ``active`` speech
    frames (``above`` with syllable gaps bridged: what pauses are measured against)."""

    power: np.ndarray
    frame_power: np.ndarray
    frame_db: np.ndarray
    threshold_db: float
    above: np.ndarray
    active: np.ndarray


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return [start, end) index pairs of the True runs in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def spectrum(signal: np.ndarray, sr: int = SAMPLE_RATE) -> Spectrum | None:
    """Return the clip's ``Spectrum``, or None for a clip shorter than two frames.

    Speech: frame power above max(noise floor (10th percentile) + 6 dB, loudest - 35 dB);
    ``active`` also bridges dips shorter than ``MIN_PAUSE_S`` inside speech.
    """
    if len(signal) < FRAME * 2:
        return None
    power = np.abs(librosa.stft(signal, n_fft=N_FFT, hop_length=HOP, win_length=FRAME, center=True)) ** 2
    frame_power = power.sum(axis=0) / (N_FFT * FRAME / 2)
    frame_db = 10 * np.log10(frame_power + 1e-12)
    threshold = max(np.percentile(frame_db, 10) + 6.0, frame_db.max() - 35.0)
    above = frame_db > threshold
    active = above.copy()
    for start, end in runs(~active):
        if 0 < start and end < len(active) and (end - start) * HOP / sr < MIN_PAUSE_S:
            active[start:end] = True
    return Spectrum(power, frame_power, frame_db, float(threshold), above, active)
