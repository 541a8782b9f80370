"""Tone of voice: prosody and voice-quality features of one spoken response.

``extract_tone(signal)`` is a pure function on a 16 kHz mono signal; ``audio.clips`` applies it
to files and to many clips over worker processes. Every feature, its unit and formula is in
docs/audio.md. Frames are 25 ms long, 10 ms apart (``audio.spectrum``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import soxr
from scipy.signal import find_peaks

from audio.decode import HOP, SAMPLE_RATE
from audio.spectrum import MIN_PAUSE_S, N_FFT, Spectrum, runs, spectrum

TONE_VERSION = "tone-2"
F0_MIN, F0_MAX = 60.0, 500.0
PITCH_SR = 8_000
PITCH_WIN = 512  # 64 ms at 8 kHz: two periods of the lowest pitch

FEATURES = (
    "duration_s", "speech_s", "voiced_ratio",
    "f0_mean_st", "f0_sd_st", "f0_range_st", "f0_slope_st_per_s",
    "loudness_mean_db", "loudness_sd_db", "loudness_range_db",
    "speaking_rate_syl_per_s", "articulation_rate_syl_per_s",
    "pause_count", "pause_mean_s", "pause_total_s", "pause_longest_s", "pause_ratio",
    "jitter_local", "shimmer_local", "hnr_db",
    "spectral_slope_db_per_khz", "spectral_centroid_hz",
    "mfcc1_mean", "mfcc1_sd", "mfcc2_mean", "mfcc2_sd", "mfcc3_mean", "mfcc3_sd", "mfcc4_mean", "mfcc4_sd",
)


@lru_cache(maxsize=4)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


@lru_cache(maxsize=2)
def _window_ac(n: int) -> np.ndarray:
    w = _hann(n).astype(np.float64)
    ac = np.correlate(w, w, mode="full")[n - 1:]
    return ac / ac[0]


def _frame_pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (f0 in Hz, periodicity in [0, 1)) per frame from the normalised autocorrelation.

    The lag is the smallest local peak within 90% of the best in the F0 range (which avoids
    octave-down errors), refined by parabolic interpolation.
    """
    if len(frames) == 0:
        return np.zeros(0), np.zeros(0)
    spectrum = scipy.fft.rfft(frames * _hann(PITCH_WIN), 2 * PITCH_WIN)
    ac = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2)[:, :PITCH_WIN]
    nac = ac / (ac[:, :1] + 1e-12) / np.maximum(_window_ac(PITCH_WIN), 1e-3)
    lo, hi = int(PITCH_SR / F0_MAX), int(PITCH_SR / F0_MIN) + 1
    band = nac[:, lo:hi]
    is_peak = np.zeros_like(band, dtype=bool)
    is_peak[:, 1:-1] = (band[:, 1:-1] >= band[:, :-2]) & (band[:, 1:-1] >= band[:, 2:])
    best = np.where(is_peak, band, -1).max(axis=1)
    first = np.argmax(is_peak & (band >= 0.9 * best[:, None]), axis=1)
    k = np.clip(first, 1, band.shape[1] - 2)
    rows = np.arange(len(band))
    a, b, c = band[rows, k - 1], band[rows, k], band[rows, k + 1]
    shift = np.where(np.abs(a - 2 * b + c) > 1e-9, 0.5 * (a - c) / (a - 2 * b + c), 0.0)
    lag = lo + k + np.clip(shift, -0.5, 0.5)
    return PITCH_SR / lag, np.clip(b, 0.0, 0.999)


@lru_cache(maxsize=4)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=40, fmin=20, fmax=sr / 2)


def extract_tone(signal: np.ndarray, sr: int = SAMPLE_RATE, frames: Spectrum | None = None) -> dict[str, float]:
    """Return the tone features of one clip (NaN where a feature is undefined, e.g. pitch of a
    clip with no voiced frame). ``signal`` is float mono at ``sr`` (16 kHz expected);
    ``frames`` is its ``audio.spectrum.spectrum`` when the caller already has it."""
    out = dict.fromkeys(FEATURES, math.nan)
    out["duration_s"] = len(signal) / sr
    frames = frames if frames is not None else spectrum(signal, sr)
    if frames is None or not frames.active.any():
        return out
    spec, frame_power, frame_db, active = frames.power, frames.frame_power, frames.frame_db, frames.active
    threshold = frames.threshold_db

    # Pitch and periodicity from each speech frame's autocorrelation (the autocorrelation
    # method, corrected for the window), at 8 kHz: voice pitch needs nothing above 4 kHz.
    low = soxr.resample(signal, sr, PITCH_SR, quality="MQ").astype(np.float32)
    hop = HOP * PITCH_SR // sr
    t = spec.shape[1]
    speech = np.flatnonzero(active)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(low, PITCH_WIN // 2, mode="reflect"), PITCH_WIN)[::hop]
    speech = speech[speech < len(frames)]
    f0, r = _frame_pitch(frames[speech])
    f0_all, r_all = np.full(t, np.nan), np.zeros(t)
    f0_all[speech], r_all[speech] = f0, r
    f0, r = f0_all, r_all
    voiced = active & (r > 0.45)
    speech_frames = int(active.sum())
    out["speech_s"] = speech_frames * HOP / sr
    out["voiced_ratio"] = float(voiced.sum() / speech_frames)

    if voiced.sum() >= 3:
        st = 12 * np.log2(f0[voiced] / 27.5)
        times = np.flatnonzero(voiced) * HOP / sr
        out["f0_mean_st"] = float(st.mean())
        out["f0_sd_st"] = float(st.std())
        out["f0_range_st"] = float(np.percentile(st, 80) - np.percentile(st, 20))
        out["f0_slope_st_per_s"] = float(np.polyfit(times, st, 1)[0]) if np.ptp(times) > 0 else math.nan
        # Perturbation between consecutive voiced frames.
        pairs = voiced[1:] & voiced[:-1]
        if pairs.any():
            period = 1.0 / np.where(voiced, f0, 1.0)
            out["jitter_local"] = float(np.mean(np.abs(np.diff(period))[pairs]) / np.mean(period[voiced]))
            amp = np.sqrt(frame_power[:t])
            out["shimmer_local"] = float(np.mean(np.abs(np.diff(amp))[pairs]) / np.mean(amp[voiced]))
        rv = r[voiced]
        out["hnr_db"] = float(np.mean(10 * np.log10(rv / (1 - rv))))

    loud = frame_db[active]
    out["loudness_mean_db"] = float(loud.mean())
    out["loudness_sd_db"] = float(loud.std())
    out["loudness_range_db"] = float(np.percentile(loud, 95) - np.percentile(loud, 5))

    # Syllable nuclei: peaks of the smoothed intensity, 2 dB above their surroundings, voiced.
    smooth = np.convolve(frame_db, np.hanning(5) / np.hanning(5).sum(), mode="same")
    peaks, _ = find_peaks(smooth, prominence=2.0, distance=int(0.08 * sr / HOP), height=threshold)
    nuclei = int(np.sum(voiced[peaks]))
    out["speaking_rate_syl_per_s"] = nuclei / out["duration_s"]
    out["articulation_rate_syl_per_s"] = nuclei / out["speech_s"]

    first, last = np.flatnonzero(active)[[0, -1]]
    pauses = [(e - s) * HOP / sr for s, e in runs(~active[first:last + 1])]
    pauses = [p for p in pauses if p >= MIN_PAUSE_S]
    span = (last - first + 1) * HOP / sr
    out["pause_count"] = float(len(pauses))
    out["pause_total_s"] = float(sum(pauses))
    out["pause_mean_s"] = float(np.mean(pauses)) if pauses else 0.0
    out["pause_longest_s"] = float(max(pauses)) if pauses else 0.0
    out["pause_ratio"] = out["pause_total_s"] / span

    freqs = np.linspace(0, sr / 2, spec.shape[0])
    band = freqs <= 5000
    spec_active = spec[:, active]
    mean_spec_db = 10 * np.log10(spec_active[band].mean(axis=1) + 1e-12)
    out["spectral_slope_db_per_khz"] = float(np.polyfit(freqs[band] / 1000, mean_spec_db, 1)[0])
    out["spectral_centroid_hz"] = float(np.mean((freqs[:, None] * spec_active).sum(0) / (spec_active.sum(0) + 1e-12)))
    mel = librosa.power_to_db(_mel_basis(sr, N_FFT) @ spec_active + 1e-10)
    mfcc = librosa.feature.mfcc(S=mel, n_mfcc=5)
    for k in range(1, 5):
        out[f"mfcc{k}_mean"] = float(mfcc[k].mean())
        out[f"mfcc{k}_sd"] = float(mfcc[k].std())
    return out
