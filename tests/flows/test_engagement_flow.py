"""The engagement_pipeline flow end to end: emulator bucket in, tables and manifest out."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from features.simulation.publish import DEMO_CURRICULUM
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.quality import QualityGateError
from outputs.tables import TABLES, read_partition
from tests.audio.heads.rated import rated_folder
from tests.audio.tiny_models import EMOTIONS, build_tiny_wav2vec2

pytestmark = pytest.mark.slow


# Prompt texts for the first lesson of each course level: those answers get aligned.
PROMPTS = {"english": {f"en-{level}-L01-P{k}": "we call it a bear" for level in ("A1", "A2") for k in (1,)},
           "german": {"de-A1-L01-P1": "wir nennen es einen baer"}}


def write_curriculum(tmp_path):
    doc = yaml.safe_load(DEMO_CURRICULUM.read_text())
    for course, prompts in PROMPTS.items():
        doc["courses"][course]["prompts"] = prompts
    path = tmp_path / "curriculum.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def write_config(tmp_path, bucket, emotion_model=None, heads=None, **ingest):
    config = {"inputs": {"telemetry": [f"gs://{bucket}/telemetry/"], "curriculum": str(write_curriculum(tmp_path))},
              "storage": {"project": "engage-test"}, "output": {"root": "out"}, "ingest": ingest,
              "audio": {"fetch": {"allowed_prefixes": [f"gs://{bucket}/audio/"]}, "batch_size": 150},
              "emotion": {"model": emotion_model, "languages": ["en"]}, "heads": heads or {}}
    path = tmp_path / "engage.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, prefect_harness, small_platform):
    tmp = tmp_path_factory.mktemp("run")
    model = build_tiny_wav2vec2(tmp / "tiny-emotion-model")
    config = write_config(tmp, small_platform["bucket"], emotion_model=str(model))
    first = engagement_pipeline(RunParameters(config_file=str(config)))
    tables = {name: read_partition(tmp / "out", name, first_run_date(first)) for name in TABLES}
    second = engagement_pipeline(RunParameters(config_file=str(config)))
    return {"dir": tmp, "first": first, "second": second, "tables": tables}


def first_run_date(manifest):
    from datetime import date

    return date.fromisoformat(manifest["run_date"])


def test_flow_writes_every_table_and_a_manifest_whose_counts_reconcile(two_runs, small_platform):
    manifest = two_runs["first"]
    assert manifest["accounting_problems"] == []
    c = manifest["counts"]
    assert c["ingest"]["input_records"] == c["ingest"]["events"] + c["ingest"]["duplicates"] + c["ingest"]["quarantined"]
    assert c["ingest"]["quarantined"] > 0 and c["ingest"]["duplicates"] > 0
    assert c["responses"]["responses"] == c["responses"]["mapped"] + c["responses"]["unmapped"] > 0
    tables = two_runs["tables"]
    assert tables["events"].num_rows == c["ingest"]["events"]
    assert tables["quarantine"].num_rows == c["ingest"]["quarantined"]
    assert tables["responses"].num_rows == c["responses"]["responses"]
    on_disk = json.loads(open(manifest["manifest_path"]).read())
    assert on_disk["counts"] == c
    assert all(i["uri"].startswith("gs://engage-test/telemetry/") and i["md5"] for i in manifest["inputs"])
    # as_of defaults to the latest event time.
    assert manifest["as_of"] == max(tables["events"]["ts"].to_pylist()).isoformat()
    # Prefect's record of each finished stage subflow.
    assert list(manifest["timings_s"]) == ["ingest", "learners", "audio", "features", "scores"]
    assert all(t > 0 for t in manifest["timings_s"].values())


def test_phase_activity_covers_every_learner_phase_the_simulator_reached(two_runs, small_platform):
    truth = pq.read_table(small_platform["dir"] / "truth" / "learner_phase.parquet").to_pylist()
    activity = two_runs["tables"]["phase_activity"].to_pylist()
    got = {(r["user_id"], r["phase"]) for r in activity}
    assert {(r["user_id"], r["phase"]) for r in truth} <= got
    truth_responses = {(r["user_id"], r["phase"]): r["responses"] for r in truth}
    for row in activity:
        if (row["user_id"], row["phase"]) in truth_responses:
            assert row["responses"] == truth_responses[(row["user_id"], row["phase"])]
    assert all(r["responses"] >= 3 for r in activity if (r["user_id"], r["phase"]) in truth_responses)


def test_audio_uris_point_into_the_emulator_bucket(two_runs):
    uris = [u for u in two_runs["tables"]["responses"]["audio_uri"].to_pylist() if u]
    assert uris and all(u.startswith("gs://engage-test/audio/") for u in uris)


def test_every_response_has_one_audio_status_matching_the_planted_case(two_runs, small_platform):
    clips = {c["response_id"]: c["case"] for c in
             pq.read_table(small_platform["dir"] / "truth" / "clips.parquet").to_pylist()}
    expected = {"ok": {"ok"}, "clipped": {"ok"}, "silent": {"silent"}, "noisy": {"noisy"},
                "missing": {"missing"}, "corrupt": {"corrupt"}, "truncated": {"corrupt", "too_short"}}
    rows = two_runs["tables"]["responses"].to_pylist()
    assert rows and all(r["audio_status"] for r in rows)
    for row in rows:
        case = clips.get(row["response_id"])
        assert row["audio_status"] in (expected[case] if case else {"no_audio"}), (row["response_id"], case)
    ok = [r for r in rows if r["audio_status"] == "ok"]
    assert all(r["f0_mean_st"] is not None and r["speaking_rate_syl_per_s"] is not None for r in ok)
    # Relative features centre each learner on their own median.
    by_user = {}
    for r in ok:
        by_user.setdefault(r["user_id"], []).append(r["loudness_mean_db_rel"])
    import statistics
    assert all(abs(statistics.median(v)) < 1e-6 for v in by_user.values())


def test_emotion_comes_from_the_configured_local_model_for_covered_languages(two_runs):
    rows = two_runs["tables"]["responses"].to_pylist()
    for r in rows:
        if r["audio_status"] == "ok" and r["language"] == "en":
            assert r["emotion_status"] == "ok" and r["emotion_label"] in EMOTIONS
            assert r["emotion_model_revision"] == "local" and r["valence"] is None
        elif r["audio_status"] == "ok":
            assert r["emotion_status"] == "language_not_covered" and r["emotion_label"] is None
        else:
            assert r["emotion_status"] == "no_audio"
        assert r["emotion_detail"] is None
    manifest = two_runs["first"]
    assert manifest["models"]["emotion"]["loaded"] and manifest["models"]["emotion"]["labels"] == list(EMOTIONS)


def test_answers_to_prompts_with_a_text_are_aligned_and_the_others_say_why_not(two_runs):
    rows = two_runs["tables"]["responses"].to_pylist()
    texts = {p for prompts in PROMPTS.values() for p in prompts}
    for r in rows:
        if r["audio_status"] != "ok":
            assert r["alignment_status"] == "no_audio"
        elif r["prompt_id"] not in texts:
            assert r["alignment_status"] == "no_text" and r["prompt_words"] is None
        elif r["language"] == "de":
            assert r["alignment_status"] == "not_aligned" and "language 'de'" in r["alignment_detail"]
        else:
            assert r["alignment_status"] in ("ok", "not_aligned") and r["prompt_words"] == 5
    aligned = [r for r in rows if r["alignment_status"] == "ok"]
    assert aligned and all(r["words_per_speech_s"] > 0 and r["gop_mean"] is not None for r in aligned)
    assert two_runs["first"]["work"]["prompts_aligned"] >= len({r["content_key"] for r in aligned})


def test_second_run_downloads_and_analyses_nothing_new(two_runs):
    first, second = two_runs["first"]["work"], two_runs["second"]["work"]
    assert first["audio_downloaded"] > 0 and first["tone_analysed"] > 0 and first["emotion_classified"] > 0
    assert {k: v for k, v in second.items() if not k.endswith("_cache_hits")} == \
        {"audio_downloaded": 0, "tone_analysed": 0, "emotion_classified": 0, "prompts_aligned": 0}
    # What the first run did, the second found in its caches.
    assert second["tone_cache_hits"] == first["tone_analysed"] + first["tone_cache_hits"] > 0
    assert second["emotion_cache_hits"] == first["emotion_classified"] + first["emotion_cache_hits"] > 0
    assert second["alignment_cache_hits"] == first["prompts_aligned"] + first["alignment_cache_hits"] > 0
    assert second["audio_cache_hits"] >= first["audio_downloaded"] > 0


def test_phase_activity_carries_audio_aggregates(two_runs):
    rows = two_runs["tables"]["phase_activity"].to_pylist()
    assert all(0 <= r["audio_ok_share"] <= 1 for r in rows if r["responses"])
    assert any(r["speaking_rate_syl_per_s_mean"] for r in rows)


def test_second_run_with_same_inputs_gives_identical_tables(two_runs):
    second = two_runs["second"]
    assert second["run_date"] == two_runs["first"]["run_date"]
    for name in TABLES:
        again = read_partition(two_runs["dir"] / "out", name, first_run_date(second))
        assert again.equals(two_runs["tables"][name]), name
    assert second["counts"] == two_runs["first"]["counts"]


def test_a_wrong_field_map_fails_loudly_after_writing_quarantine(tmp_path, prefect_harness, small_platform):
    config = write_config(tmp_path, small_platform["bucket"], field_map={"user_id": "$.learner_id"})
    with pytest.raises(QualityGateError, match="quarantined.*is the field map right") as err:
        engagement_pipeline(RunParameters(config_file=str(config)))
    kept = str(err.value).rsplit("quarantine kept in ", 1)[1].rstrip(")")
    quarantine = pq.read_table(kept).to_pylist()
    assert {q["reason"] for q in quarantine} >= {"missing_field"}
    assert any(q["field"] == "user_id" for q in quarantine)


def test_a_fluency_head_trained_with_prompt_texts_scores_answers_with_and_without_one(tmp_path, prefect_harness,
                                                                                    small_platform):
    import numpy as np
    import pandas as pd

    from audio.heads.model import load_head
    from flows.cli import main

    rated = rated_folder(tmp_path / "rated", speakers=10, clips=6, text="we call it a bear")
    assert main(["train-fluency", "--dir", str(rated),
                 "--out", str(tmp_path / "heads")]) == 0
    head = load_head(tmp_path / "heads" / "fluency-head-v1.joblib", "fluency")
    assert "words_per_speech_s" in head.features and "words_per_speech_s" not in head.fallback.features
    assert head.metrics["without_prompt"]["n"] == 60  # how the fallback does on unseen speakers
    config = write_config(tmp_path, small_platform["bucket"], heads={"fluency": str(tmp_path / "heads" / "fluency-head-v1.joblib")})
    manifest = engagement_pipeline(RunParameters(config_file=str(config)))
    responses = read_partition(tmp_path / "out", "responses", first_run_date(manifest)).to_pandas()
    ok = responses[responses["audio_status"] == "ok"]
    assert ok["fluency_score"].notna().all() and responses.loc[responses["audio_status"] != "ok", "fluency_score"].isna().all()
    truth = pd.read_parquet(small_platform["dir"] / "truth" / "learners.parquet")[["user_id", "fluency"]]
    per_learner = ok.groupby("user_id")["fluency_score"].mean().rename("score").reset_index().merge(truth, on="user_id")
    assert np.corrcoef(per_learner["score"], per_learner["fluency"])[0, 1] > 0.4
    assert set(ok["alignment_status"]) >= {"no_text", "not_aligned"}  # no prompt text: the audio-only fallback
    activity = read_partition(tmp_path / "out", "phase_activity", first_run_date(manifest)).to_pylist()
    assert any(r["fluency_score_mean"] is not None for r in activity)
    scores = read_partition(tmp_path / "out", "phase_scores", first_run_date(manifest))
    versions = set(scores["score_version"].to_pylist())
    assert len(versions) == 1 and "|fluency=fluency-head-v1.joblib@" in (version := versions.pop())
    assert version.split("|")[1].endswith("+align-1")  # its scores change when the alignment does
