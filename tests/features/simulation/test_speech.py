import io

import pytest

import librosa
import numpy as np
import soundfile as sf

from features.simulation.speech import render_case, synthesize_speech


def prosody(engagement, seed):
    y = synthesize_speech(3.0, 120.0, engagement, 0.0, 0.0, 25.0, np.random.default_rng(seed))
    f0 = librosa.yin(y, fmin=60, fmax=400, sr=16000, frame_length=1024, hop_length=160)
    rms = librosa.feature.rms(y=y, frame_length=1024, hop_length=160)[0]
    voiced = rms > np.percentile(rms, 95) * 0.2
    return np.std(12 * np.log2(f0[voiced] / np.median(f0[voiced]))), rms[voiced].mean()


def test_low_engagement_sounds_flatter_and_quieter():
    low = np.mean([prosody(0.15, s) for s in range(4)], axis=0)
    high = np.mean([prosody(0.9, s) for s in range(4)], axis=0)
    assert high[0] > 1.8 * low[0]
    assert high[1] > 2.0 * low[1]


def test_bad_cases_decode_as_their_case_says():
    rng = np.random.default_rng(0)
    y = synthesize_speech(2.0, 200.0, 0.7, 0.0, 0.0, 25.0, rng)
    ok, _ = sf.read(io.BytesIO(render_case(y, "ok", rng)))
    assert abs(len(ok) - len(y)) < 1600
    silent, _ = sf.read(io.BytesIO(render_case(y, "silent", rng)))
    assert np.abs(silent).max() < 1e-3
    clipped, _ = sf.read(io.BytesIO(render_case(y, "clipped", rng)))
    assert np.mean(np.abs(clipped) > 0.99) > 0.01
    with pytest.raises(sf.LibsndfileError):
        sf.read(io.BytesIO(render_case(y, "corrupt", rng)))
    truncated = render_case(y, "truncated", rng)
    assert len(truncated) < len(render_case(y, "ok", rng)) / 2
