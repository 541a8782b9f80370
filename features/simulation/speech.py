"""Speech-like test signals whose prosody carries a speaker's latent state.

Not speech: a glottal pulse train with a pitch contour, shaped by formant resonances that change
per syllable, gated into syllables at a speaking rate, with pauses between words and background
noise. It lets a tone analyser be checked end to end: low engagement gives shorter answers, more
and longer pauses, a flatter pitch and a quieter voice; low fluency a slower, more broken rhythm.
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from features.simulation.platform import ClipSpec

# The simulated app records 16 kHz mono (as many do); the pipeline resamples whatever it gets.
RECORDING_RATE = 16_000
# (F1, F2, F3) in Hz of a few vowels; a syllable takes one.
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240))


def _resonator(signal: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    r = math.exp(-math.pi * bandwidth / sr)
    theta = 2 * math.pi * freq / sr
    a = [1.0, -2 * r * math.cos(theta), r * r]
    return lfilter([1 - r], a, signal)


def synthesize_speech(
    duration_s: float,
    f0_hz: float,
    engagement: float,
    fluency: float,
    mood: float,
    snr_db: float,
    rng: np.random.Generator,
    sr: int = RECORDING_RATE,
) -> np.ndarray:
    """Return a float32 mono signal of about ``duration_s`` seconds.

    ``engagement`` is in [0, 1]; ``fluency`` and ``mood`` are standard-normal traits; noise is
    added at ``snr_db`` relative to the voiced signal's power.
    """
    fluent = 1 / (1 + math.exp(-fluency))
    rate = 2.2 + 1.6 * fluent + 1.0 * engagement  # syllables per second while speaking
    pause_p = 0.1 + 0.45 * (1 - engagement) + 0.15 * (1 - fluent)
    pause_max = 0.3 + 0.9 * (1 - engagement)
    pitch_range = 1.0 + 5.0 * engagement * (1.0 + 0.3 * math.tanh(mood))  # semitones
    level = 0.04 + 0.22 * engagement

    n = int(duration_s * sr)
    voice = np.zeros(n)
    semitones = np.zeros(n)
    gate = np.zeros(n)
    t = float(rng.uniform(0.15, 0.35))
    syllable = 0
    while t < duration_s - 0.25:
        length = float(np.clip(rng.normal(1 / rate, 0.25 / rate), 0.06, 0.5))
        a, b = int(t * sr), min(int((t + length) * sr), n)
        if b - a > 16:
            gate[a:b] = np.hanning(b - a) ** 0.7 * float(rng.uniform(0.7, 1.0))
            semitones[a:b] = float(rng.normal(0, pitch_range / 2))
            syllable += 1
        t += length
        if syllable % int(rng.integers(2, 4)) == 0 and rng.random() < pause_p:
            t += float(rng.uniform(0.15, pause_max))
    # Smooth pitch targets into a contour, with declination over the utterance.
    kernel = np.hanning(int(0.08 * sr))
    contour = np.convolve(semitones, kernel / kernel.sum(), mode="same")
    contour += np.linspace(1.0, -1.5, n) * (0.5 + engagement)
    f0 = f0_hz * 2 ** (contour / 12) * (1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1)))
    phase = np.cumsum(f0 / sr)
    source = 2 * (phase - np.floor(phase)) - 1  # sawtooth: harmonics falling 6 dB/octave
    shimmer = 1 + 0.05 * np.repeat(rng.standard_normal(n // 160 + 1), 160)[:n]
    source = source * shimmer
    # Per-syllable formants: filter in ~0.2 s blocks with that block's vowel.
    block = int(0.2 * sr)
    for start in range(0, n, block):
        seg = source[start:start + block]
        f1, f2, f3 = VOWELS[int(rng.integers(len(VOWELS)))]
        shaped = _resonator(seg, f1, 90, sr) + 0.6 * _resonator(seg, f2, 110, sr) + 0.3 * _resonator(seg, f3, 160, sr)
        voice[start:start + block] = shaped
    voice *= gate
    peak = np.max(np.abs(voice)) or 1.0
    voice *= level / peak
    voiced_power = np.mean(voice[gate > 0.1] ** 2) if np.any(gate > 0.1) else level**2
    noise = rng.standard_normal(n)
    noise = lfilter([1.0], [1.0, -0.7], noise)  # a little coloured, like room noise
    noise *= math.sqrt(voiced_power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (voice + noise).astype(np.float32)


def render_case(signal: np.ndarray, case: str, rng: np.random.Generator, sr: int = RECORDING_RATE,
                fmt: str = "OGG") -> bytes:
    """Encode ``signal`` (OGG Vorbis by default), broken as ``case`` says.

    Cases: ``ok``, ``silent`` (near-zero signal), ``clipped`` (driven into full scale),
    ``noisy`` (noise at about 0 dB SNR), ``truncated`` (the encoded file cut short), ``corrupt``
    (random bytes). ``missing`` encodes normally: the caller does not upload it.
    """
    if case == "corrupt":
        return rng.bytes(int(rng.integers(500, 4000)))
    if case == "silent":
        signal = (1e-5 * rng.standard_normal(len(signal))).astype(np.float32)
    elif case == "clipped":
        signal = np.clip(signal * 12.0, -1.0, 1.0)
    elif case == "noisy":
        power = float(np.mean(signal**2))
        signal = signal + rng.standard_normal(len(signal)).astype(np.float32) * math.sqrt(power) * 1.2
    buf = io.BytesIO()
    subtype = "VORBIS" if fmt == "OGG" else None
    sf.write(buf, np.clip(signal, -1, 1), sr, format=fmt, subtype=subtype)
    data = buf.getvalue()
    if case == "truncated":
        data = data[: max(200, len(data) // 3)]
    return data


def render_clip(spec: ClipSpec) -> bytes:
    """Return the encoded audio of one simulated response."""
    rng = np.random.default_rng(spec.seed)
    signal = synthesize_speech(spec.duration_s, spec.f0_hz, spec.engagement, spec.fluency,
                               spec.mood, spec.snr_db, rng)
    return render_case(signal, spec.case, rng)
