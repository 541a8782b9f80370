"""The emotion runner with a tiny random Wav2Vec2 the test builds and saves."""

from __future__ import annotations

import numpy as np
import pytest

from audio.emotion import classify_emotions, load_emotion_model
from audio.pretrained import ModelUnavailable
from features.simulation.speech import synthesize_speech
from tests.audio.tiny_models import EMOTIONS, build_tiny_wav2vec2


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return load_emotion_model(str(build_tiny_wav2vec2(tmp_path_factory.mktemp("w2v"))), device="cpu")


def signals(n=7):
    return [synthesize_speech(0.8 + 0.45 * i, 120 + 20 * i, 0.6, 0, 0, 25, np.random.default_rng(i)) for i in range(n)]


def test_local_model_loads_offline_with_labels_and_revision(tiny_model):
    assert tiny_model.labels == list(EMOTIONS)
    assert tiny_model.device == "cpu" and tiny_model.revision == "local"
    assert not tiny_model.is_dimensional


def test_batched_results_equal_one_at_a_time(tiny_model):
    import torch

    clips = signals()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # on the CPU the batches run side by side, one torch thread each
    try:
        batched = classify_emotions(tiny_model, clips, batch_size=4)
        assert torch.get_num_threads() == 2  # given back
    finally:
        torch.set_num_threads(threads)
    single = [classify_emotions(tiny_model, [c], batch_size=1)[0] for c in clips]
    for b, s in zip(batched, single):
        assert set(b) == set(EMOTIONS)
        assert abs(sum(b.values()) - 1) < 1e-5
        for label in EMOTIONS:
            assert b[label] == pytest.approx(s[label], abs=1e-4)


def test_unavailable_model_raises_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens: offline
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailable, match="offline"):
        load_emotion_model("someone/speech-emotion-model", device="cpu")
    (tmp_path / "broken").mkdir()
    with pytest.raises(ModelUnavailable, match="broken"):
        load_emotion_model(str(tmp_path / "broken"), device="cpu")


@pytest.mark.gpu
def test_cuda_runs_in_half_precision_and_matches_cpu(tmp_path):
    import torch

    folder = build_tiny_wav2vec2(tmp_path / "w2v")
    gpu = load_emotion_model(str(folder))
    assert gpu.device == "cuda" and gpu.dtype in (torch.bfloat16, torch.float16)
    clips = signals(4)
    on_gpu = classify_emotions(gpu, clips, batch_size=4)
    on_cpu = classify_emotions(load_emotion_model(str(folder), device="cpu"), clips, batch_size=4)
    for g, c in zip(on_gpu, on_cpu):
        for label in EMOTIONS:
            assert g[label] == pytest.approx(c[label], abs=0.02)
