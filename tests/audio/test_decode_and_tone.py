import io

import numpy as np
import pytest
import soundfile as sf

from audio.decode import AudioLimits, DecodeError, audio_status, decode_audio
from features.simulation.speech import render_case, synthesize_speech
from audio.tone import FEATURES, extract_tone


def clip(engagement=0.7, f0=150.0, seed=0, seconds=3.0):
    return synthesize_speech(seconds, f0, engagement, 0.0, 0.0, 25.0, np.random.default_rng(seed))


def status_of(data: bytes) -> str:
    _, info = decode_audio(data)
    return audio_status(info, AudioLimits())


def test_formats_decode_to_16k_mono_and_bad_cases_get_their_status():
    y = clip()
    stereo_44k = io.BytesIO()
    sf.write(stereo_44k, np.stack([y, y], 1).repeat(3, axis=0)[: int(len(y) * 2.75625)], 44100, format="FLAC")
    signal, info = decode_audio(stereo_44k.getvalue())
    assert (info.native_sample_rate, info.channels) == (44100, 2)
    assert abs(len(signal) / 16000 - info.duration_s) < 1e-6
    rng = np.random.default_rng(1)
    assert status_of(render_case(y, "ok", rng)) == "ok"
    assert status_of(render_case(y, "silent", rng)) == "silent"
    assert status_of(render_case(y, "noisy", rng)) == "noisy"
    _, clipped = decode_audio(render_case(y, "clipped", rng))
    assert clipped.clipping_share > 0.01
    assert status_of(render_case(y[:2000], "ok", rng)) == "too_short"
    with pytest.raises(DecodeError, match="cannot decode"):
        decode_audio(render_case(y, "corrupt", rng))
    with pytest.raises(DecodeError, match="ffmpeg"):
        decode_audio(__file__.replace(".py", ".m4a"))


def test_tone_features_are_all_present_and_pitch_is_right():
    for f0 in (110.0, 220.0):
        feats = extract_tone(clip(f0=f0))
        assert set(feats) == set(FEATURES)
        hz = 27.5 * 2 ** (feats["f0_mean_st"] / 12)
        assert abs(hz - f0) / f0 < 0.06
        assert feats["voiced_ratio"] > 0.8 and feats["hnr_db"] > 10


def test_tone_hears_engagement_in_pitch_range_loudness_rate_and_pauses():
    low = [extract_tone(clip(0.15, seed=s)) for s in range(6)]
    high = [extract_tone(clip(0.9, seed=s)) for s in range(6)]
    mean = lambda rows, k: float(np.mean([r[k] for r in rows]))  # noqa: E731
    assert mean(high, "f0_range_st") > mean(low, "f0_range_st") + 2
    assert mean(high, "loudness_mean_db") > mean(low, "loudness_mean_db") + 5
    assert mean(high, "speaking_rate_syl_per_s") > mean(low, "speaking_rate_syl_per_s")
    assert mean(high, "pause_mean_s") < mean(low, "pause_mean_s")


def test_silence_gives_undefined_pitch_not_an_error():
    feats = extract_tone(np.zeros(16000, dtype=np.float32))
    assert np.isnan(feats["f0_mean_st"]) and feats["duration_s"] == 1.0
