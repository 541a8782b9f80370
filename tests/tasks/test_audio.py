"""Audio task bodies on local files: batches, fetch statuses, tone with its cache, emotion
statuses with their detail, and the join onto responses."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from prefect.logging import disable_run_logger

from audio.decode import AudioLimits
from audio.emotion import EmotionOptions
from audio.fetch import FetchPolicy
from features.simulation.speech import synthesize_speech
from outputs.tables import write_parquet
from tasks.audio import (
    analyse_audio_batch,
    attach_audio_features,
    classify_emotion,
    fetch_audio_batch,
    plan_audio_batches,
)


@pytest.fixture
def responses(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    for i in range(3):
        y = synthesize_speech(1.5, 120 + 40 * i, 0.7, 0.0, 0.0, 25.0, np.random.default_rng(i))
        sf.write(folder / f"r{i}.wav", y, 16000)
    rows = [{"response_id": f"r{i}", "user_id": "u", "language": "en", "audio_uri": str(folder / f"r{i}.wav")}
            for i in range(3)]
    rows += [{"response_id": "r3", "user_id": "u", "language": "en", "audio_uri": str(folder / "gone.wav")},
             {"response_id": "r4", "user_id": "u", "language": "de", "audio_uri": "/etc/passwd"},
             {"response_id": "r5", "user_id": "u", "language": "en", "audio_uri": None}]
    return {"path": write_parquet(pa.Table.from_pylist(rows), tmp_path / "responses.parquet"),
            "policy": FetchPolicy(allowed_prefixes=(str(folder) + "/",))}


def test_fetch_and_analyse_give_one_status_per_response_and_reuse_the_cache(responses, tmp_path):
    work, cache = str(tmp_path / "work"), str(tmp_path / "cache")
    batches = plan_audio_batches.fn(responses["path"], 4, work)
    assert [pq.read_metadata(b).num_rows for b in batches] == [4, 2]
    fetched = [fetch_audio_batch.fn(b, responses["policy"], cache, 64, None) for b in batches]
    clips = [analyse_audio_batch.fn(f, AudioLimits(), 1, cache) for f in fetched]
    statuses = [r["audio_status"] for c in clips for r in pq.read_table(c["path"]).to_pylist()]
    assert statuses == ["ok", "ok", "ok", "missing", "refused", "no_audio"]
    assert sum(c["analysed"] for c in clips) == 3
    again = [analyse_audio_batch.fn(f, AudioLimits(), 1, cache) for f in fetched]
    assert sum(c["analysed"] for c in again) == 0


@pytest.mark.parametrize("model, status", [(None, "no_model"), ("/nonexistent/model-folder", "unavailable")])
def test_emotion_without_a_model_says_why_in_status_and_detail(responses, tmp_path, model, status):
    work, cache = str(tmp_path / "work"), str(tmp_path / "cache")
    fetched = fetch_audio_batch.fn(plan_audio_batches.fn(responses["path"], 10, work)[0], responses["policy"],
                                   cache, 64, None)
    clips = analyse_audio_batch.fn(fetched, AudioLimits(), 1, cache)
    with disable_run_logger():
        emotion = classify_emotion.fn([clips["path"]], EmotionOptions(model=model), cache, work)
    rows = pq.read_table(emotion["path"]).to_pylist()
    assert {r["emotion_status"] for r in rows} == {status} and emotion["classified"] == 0
    assert {r["emotion_detail"] is not None for r in rows} == {status == "unavailable"}
    assert all(r["emotion_label"] is None for r in rows)
    joined = pq.read_table(attach_audio_features.fn(responses["path"], [clips["path"]], [emotion["path"]], work))
    assert joined.num_rows == 6 and joined["emotion_status"].to_pylist() == [status] * 6
    assert joined["response_id"].to_pylist() == [f"r{i}" for i in range(6)]
