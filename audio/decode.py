"""Decode response audio to 16 kHz mono float32 and judge whether it can be analysed.

Decoding is libsndfile's (through soundfile): WAV, FLAC, OGG (Vorbis, Opus) and MP3. M4A/AAC and
WebM need ffmpeg, which is not a dependency: such files get status ``corrupt`` with a detail
saying the format is unsupported.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import soundfile as sf
import soxr
from annotated_types import Ge, Gt

from features.errors import EngageError
from features.statuses import AudioStatus

SAMPLE_RATE = 16_000  # every analysis runs on 16 kHz mono
FRAME = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms


class DecodeError(EngageError):
    """Audio bytes that cannot be decoded; the message says why."""


@dataclass(frozen=True)
class AudioLimits:
    """When a decoded clip is not worth analysing (the ``audio.limits`` config section; see
    ``audio_status``).

    Raises:
        ValueError: ``max_duration_s`` not above ``min_duration_s``.
    """

    min_duration_s: Annotated[float, Ge(0)] = 0.3
    max_duration_s: Annotated[float, Gt(0)] = 60.0
    silence_dbfs: float = -55.0  # loudest 10 ms frames quieter than this: silent
    min_snr_db: float = 6.0  # below: noisy

    def __post_init__(self) -> None:
        if self.max_duration_s <= self.min_duration_s:
            raise ValueError(f"max_duration_s ({self.max_duration_s}) must be above "
                             f"min_duration_s ({self.min_duration_s})")


@dataclass(frozen=True)
class AudioInfo:
    """Facts about a decoded clip."""

    duration_s: float
    native_sample_rate: int
    channels: int
    format: str
    peak_dbfs: float
    clipping_share: float  # share of samples at or within 0.1% of full scale
    snr_db: float  # loud frames (90th percentile power) over quiet frames (10th percentile)
    loud_frame_dbfs: float  # power of the loud frames (90th percentile), dBFS


def decode_audio(source: str | Path | bytes, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, AudioInfo]:
    """Return ``(signal, info)``: float32 mono at ``sample_rate`` and facts about the clip.

    Clipping is measured on the original samples, before resampling.

    Raises:
        DecodeError: the bytes are not audio libsndfile can read (the message names the path
            and the reason, e.g. an unsupported container such as M4A).
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        with sf.SoundFile(io.BytesIO(source) if isinstance(source, bytes) else source) as f:
            data, native, fmt = f.read(dtype="float32", always_2d=True), f.samplerate, f.format
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        suffix = Path(name).suffix.lower()
        hint = " (M4A/AAC and WebM need ffmpeg, which is not installed)" if suffix in (".m4a", ".aac", ".mp4", ".webm") else ""
        reason = re.sub(r"^Error opening .*?: ", "", str(exc))  # the path is already in front
        raise DecodeError(f"{name}: cannot decode audio: {reason}{hint}") from exc
    if data.size == 0:
        raise DecodeError(f"{name}: no samples")
    clipping = float(np.mean(np.abs(data) >= 0.999))
    mono = data.mean(axis=1)
    if native != sample_rate:
        mono = soxr.resample(mono, native, sample_rate, quality="HQ").astype(np.float32)
    peak = float(np.max(np.abs(mono)))
    loud, quiet = np.percentile(frame_power(mono), [90, 10])
    info = AudioInfo(
        duration_s=len(mono) / sample_rate, native_sample_rate=int(native), channels=data.shape[1],
        format=fmt, peak_dbfs=20 * np.log10(max(peak, 1e-10)), clipping_share=clipping,
        snr_db=float(10 * np.log10((loud + 1e-12) / (quiet + 1e-12))),
        loud_frame_dbfs=float(10 * np.log10(loud + 1e-12)))
    return mono.astype(np.float32, copy=False), info


def frame_power(signal: np.ndarray) -> np.ndarray:
    """Return the mean power of each 25 ms frame, 10 ms apart."""
    if len(signal) < FRAME:
        return np.array([float(np.mean(signal**2))]) if len(signal) else np.zeros(1)
    frames = np.lib.stride_tricks.sliding_window_view(signal, FRAME)[::HOP]
    return np.einsum("ij,ij->i", frames, frames) / FRAME


def audio_status(info: AudioInfo, limits: AudioLimits) -> AudioStatus:
    """Return ``ok``, ``too_short``, ``too_long``, ``silent`` or ``noisy`` for a decoded clip."""
    if info.duration_s < limits.min_duration_s:
        return AudioStatus.TOO_SHORT
    if info.duration_s > limits.max_duration_s:
        return AudioStatus.TOO_LONG
    if info.loud_frame_dbfs < limits.silence_dbfs:
        return AudioStatus.SILENT
    if info.snr_db < limits.min_snr_db:
        return AudioStatus.NOISY
    return AudioStatus.OK
