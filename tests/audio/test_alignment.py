"""Forced alignment of prompt texts: statuses, features on real read speech, the cache."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from audio.alignment import ALIGNMENT_FEATURES, align_clip, prompt_words
from audio.alignment_clips import align_clip_texts
from audio.decode import decode_audio
from audio.feature_cache import FeatureCache
from features.simulation.speech import synthesize_speech
from tests.conftest import SHARED_DATA


def speech(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return synthesize_speech(2.0, 130.0, 0.6, 0.0, 0.0, 25.0, rng).astype(float)


def test_prompt_words_are_spelled_as_the_dictionary_spells_them():
    assert prompt_words("Look at John's SWEATER, 3 times!") == ["look", "at", "john's", "sweater", "times"]
    assert prompt_words(None) == [] and prompt_words("  42 ...") == []


def test_a_prompt_without_words_or_with_a_word_outside_the_dictionary_says_so():
    assert align_clip(speech(), "   ")["alignment_status"] == "no_text"
    result = align_clip(speech(), "we call it a zorbleflax")
    assert result["alignment_status"] == "not_aligned" and "zorbleflax" in result["alignment_detail"]
    assert all(np.isnan(result[f]) for f in ALIGNMENT_FEATURES)


def test_audio_the_words_cannot_be_fitted_to_is_not_aligned_never_an_error():
    for signal in (speech(), np.zeros(1600), np.random.default_rng(1).normal(0, 0.3, 32000)):
        result = align_clip(signal, "we call it a bear")
        assert result["alignment_status"] in ("ok", "not_aligned")
        if result["alignment_status"] == "not_aligned":
            assert result["alignment_detail"]


@pytest.fixture(scope="module")
def read_speech():
    folder = SHARED_DATA / "speechocean762"
    if not folder.exists():
        pytest.skip(f"{folder} is absent: alignment on real read speech needs ../shared/data/speechocean762")
    rows = list(csv.DictReader(open(folder / "subset_manifest.csv")))
    return [(folder / r["wav_path"], r["text"]) for r in rows[:40:4]]


def test_real_read_speech_aligns_to_its_own_text_better_than_to_another_prompt(read_speech):
    for (path, text), (_, other) in zip(read_speech, read_speech[1:] + read_speech[:1]):
        signal = decode_audio(str(path))[0]
        own, wrong = align_clip(signal, text), align_clip(signal, other)
        assert own["alignment_status"] == "ok", (path, own["alignment_detail"])
        assert 0.5 < own["words_per_speech_s"] < 6 and 5 < own["phones_per_speech_s"] < 25
        assert own["word_gap_count"] >= 0 and own["gop_p10"] <= own["gop_mean"] + 1e-9
        if wrong["alignment_status"] == "ok":  # the wrong words fit the sounds worse
            assert wrong["gop_mean"] < own["gop_mean"], path


def test_many_clips_get_a_status_each_and_aligned_results_are_cached_by_content_and_text(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.random.default_rng(2).normal(0, 0.2, 24000), 16000)
    clips = [{"content_key": "k1", "local_path": str(path), "language": "en", "audio_status": "ok"},
             {"content_key": "k1", "local_path": str(path), "language": "en-GB", "audio_status": "ok"},
             {"content_key": "k2", "local_path": str(path), "language": "de", "audio_status": "ok"},
             {"content_key": None, "local_path": None, "language": "en", "audio_status": "missing"},
             {"content_key": "k1", "local_path": str(path), "language": "en", "audio_status": "ok"}]
    texts = ["we call it a bear", "we call it a bear", "wir nennen es", "we call it a bear", None]
    cache = FeatureCache(tmp_path / "cache")
    rows, aligned, hits = align_clip_texts(clips, texts, cache, workers=1)
    assert [r["alignment_status"] for r in rows][2:] == ["not_aligned", "no_audio", "no_text"]
    assert rows[0]["alignment_status"] in ("ok", "not_aligned") and rows[0] == rows[1]
    assert "language 'de'" in rows[2]["alignment_detail"]
    assert [r["prompt_words"] for r in rows] == [5, 5, 3, 5, None]
    assert (aligned, hits) == (1, 0)  # one clip x text pair, aligned once
    again, aligned, hits = align_clip_texts(clips, texts, cache, workers=1)
    assert again == rows and (aligned, hits) == (0, 1)
    _, aligned, _ = align_clip_texts(clips[:1], ["we call it a dog"], cache, workers=1)
    assert aligned == 1  # another text is another alignment
