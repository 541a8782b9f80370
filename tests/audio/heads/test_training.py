"""Training, saving and loading a head on simulated speech (no shared data needed)."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audio.heads.model import load_head
from features.simulation.speech import synthesize_speech
from flows.cli import main
from tests.audio.heads.rated import rated_folder


def test_train_emotion_saves_a_versioned_head_that_separates_unseen_speakers(tmp_path, capsys):
    rows = []
    for speaker, f0 in (("s1", 110.0), ("s2", 150.0), ("s3", 200.0), ("s4", 240.0)):
        for k in range(8):
            label = "bored" if k % 2 else "lively"
            y = synthesize_speech(2.0, f0, 0.15 if label == "bored" else 0.9, 0.0, 0.0, 25.0,
                                  np.random.default_rng(hash((speaker, k)) % 2**32))
            sf.write(tmp_path / f"{speaker}-{k}.wav", y, 16000)
            rows.append({"wav": f"{speaker}-{k}.wav", "who": speaker, "state": label})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    code = main(["train-emotion", "--manifest", str(tmp_path / "m.csv"), "--file-col", "wav",
                 "--speaker-col", "who", "--label-col", "state", "--out", str(tmp_path / "model")])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    uar = float(last.split("uar=")[1].split()[0])
    assert uar >= 0.9  # leave-one-speaker-out on clearly different engagement
    head = load_head(tmp_path / "model" / "emotion-head-v1.joblib")
    assert head.kind == "emotion" and head.labels == ["bored", "lively"] and head.speaker_standardised
    assert (tmp_path / "model" / "emotion-head-v1.metrics.json").exists()


def test_emotion_head_can_add_pooled_ssl_embeddings(tmp_path, capsys):
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    ssl = tmp_path / "ssl"
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                                 conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), feat_extract_norm="layer",
                                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)).save_pretrained(ssl)
    Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True).save_pretrained(ssl)
    rows = []
    for speaker in ("a", "b", "c"):
        for k in range(4):
            y = synthesize_speech(1.5, 150.0, 0.2 + 0.2 * k, 0.0, 0.0, 25.0, np.random.default_rng(k))
            sf.write(tmp_path / f"{speaker}{k}.wav", y, 16000)
            rows.append({"file": f"{speaker}{k}.wav", "speaker": speaker, "emotion": "low" if k < 2 else "high"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    assert main(["train-emotion", "--manifest", str(tmp_path / "m.csv"), "--ssl-model", str(ssl),
                 "--out", str(tmp_path / "model")]) == 0
    head = load_head(tmp_path / "model" / "emotion-head-v1.joblib")
    assert head.ssl_model == str(ssl)
    assert [f for f in head.features if f.startswith("ssl_")] == [f"ssl_{k}" for k in range(16)]


def test_fluency_is_tuned_inside_the_training_speakers_and_scored_on_the_other_half(tmp_path, capsys):
    folder = str(rated_folder(tmp_path))
    assert main(["evaluate", "fluency", "--train", folder, "--train-speakers", "even",
                 "--test", folder, "--test-speakers", "odd"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[:out.rindex("}") + 1])
    assert result["n"] == 80 and result["stratified_n"] == 60  # the 4 odd speakers' clips
    assert set(result["chosen"]) == {"max_depth", "learning_rate"}
    assert result["r"] > 0.3  # the ratings follow the trait the synthetic voice carries (0.44)

    assert main(["evaluate", "fluency", "--cv", folder, "--train-speakers", "0001,0002,0003,0004,0005"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[:out.rindex("}") + 1])
    assert result["n"] == 100 and len(result["fold_r"]) == 5
    assert all(np.isfinite(result["fold_r"])) and result["fold_r_min"] == pytest.approx(min(result["fold_r"]), abs=1e-4)


def test_a_speaker_choice_that_selects_nobody_is_named(tmp_path, capsys):
    folder = str(rated_folder(tmp_path, speakers=2, clips=1))
    assert main(["evaluate", "fluency", "--cv", folder, "--train-speakers", "0009"]) == 2
    assert "no clip of the speakers '0009'" in capsys.readouterr().err


def test_a_head_with_prompt_features_scores_rows_without_them_by_its_audio_only_fallback():
    from audio.heads.evaluation import fit_head
    from audio.heads.model import PROMPT_FEATURES

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["speech_s", "pause_ratio", "words_per_speech_s"])
    frame["prompt_words_per_s"] = rng.normal(size=120)
    frame["fluency"] = frame["pause_ratio"] + 2 * frame["words_per_speech_s"] + frame["prompt_words_per_s"]
    frame["speaker"] = [f"s{k % 6}" for k in range(120)]
    audio = ["speech_s", "pause_ratio"]
    head = fit_head("fluency", frame, audio + ["words_per_speech_s", "prompt_words_per_s"], "v", {})
    head.fallback = fit_head("fluency", frame, audio, "v", {})

    no_text = frame.assign(**{c: np.nan for c in PROMPT_FEATURES if c in frame})
    assert np.allclose(head.predict(no_text), head.fallback.predict(frame))
    with_text = head.predict(frame)
    assert np.corrcoef(with_text, frame["fluency"])[0, 1] > np.corrcoef(head.predict(no_text), frame["fluency"])[0, 1]
    mixed = pd.concat([no_text.iloc[:10], frame.iloc[10:]], ignore_index=True)
    assert np.allclose(head.predict(mixed)[:10], head.fallback.predict(frame.iloc[:10]))
    assert np.allclose(head.predict(mixed)[10:], with_text[10:])
