"""The ``engagement_pipeline`` flow: telemetry in, learner x phase tables and a manifest out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from prefect import flow, get_run_logger, unmapped

from flows.config import RunParameters, load_config
from outputs.manifest import code_version, config_hash, reconcile, stage_counts
from audio.tone import TONE_VERSION
from tasks.audio import (
    analyse_audio_batch,
    attach_audio_features,
    classify_emotion,
    fetch_audio_batch,
    plan_audio_batches,
    score_heads,
)
from tasks.learners import (
    latest_event_time,
    phase_activity_table,
    place_and_sessionize,
    responses_table,
    select_learners,
    sessions_table,
)
from tasks.publish import check_thresholds, fail_empty_ingest, publish_manifest, publish_tables
from tasks.telemetry import finalize_ingest, resolve_sources, stage_source


@flow(name="engagement_pipeline", validate_parameters=True)
def engagement_pipeline(params: RunParameters = RunParameters()) -> dict:
    """Run the pipeline for one config; return the run manifest.

    Raises ConfigError for a bad config, FileNotFoundError for a source that matches nothing,
    and RunThresholdError (after writing every table and the manifest) when too much input
    was quarantined or left unmapped.
    """
    log = get_run_logger()
    config = load_config(params.config_file)
    cfg_hash = config_hash(config.model_dump(mode="json"))
    work = Path(config.output.work_dir or Path(config.output.root) / "_work") / cfg_hash[:12]
    shutil.rmtree(work, ignore_errors=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    # 1. ingest
    sources = resolve_sources(config.telemetry.sources, config.storage.project)
    staged = [f.result() for f in stage_source.map(
        sources, range(len(sources)), unmapped(str(work)), unmapped(config.telemetry),
        unmapped(config.storage.project))]
    ingest = finalize_ingest(staged, str(work), config.telemetry) | {"files": staged}
    lap("ingest")
    if not ingest["events"]:
        fail_empty_ingest(ingest, config.output.root, cfg_hash, config.telemetry.max_quarantine_share)
    as_of = params.as_of or latest_event_time(ingest["events_path"])
    run_date = params.run_date or as_of.date()
    # 2. select, place, sessions, responses, phase activity
    selected = select_learners(ingest["events_path"], config.select, as_of, str(work))
    timeline = place_and_sessionize(selected["path"], config.mapping.curriculum,
                                    config.sessions.inactivity_gap_minutes, str(work))
    sessions = sessions_table(timeline, str(work))
    responses = responses_table(timeline, config.mapping.curriculum, str(work))
    lap("learners")
    # 3. audio: fetch, analyse tone, classify emotion, join onto responses
    emotion_info, work_done = {}, {}
    if config.audio.enabled:
        cache_dir = config.audio.cache_dir or str(Path(config.output.root) / "_cache")
        batches = plan_audio_batches(responses, config.audio.batch_size, str(work))
        # A pipeline: batch k+1 downloads while batch k is analysed on every core.
        fetches, analyses = [], []
        for batch in batches:
            fetches.append(fetch_audio_batch.submit(batch, config.audio, cache_dir, config.storage.project,
                                                    wait_for=fetches[-1:]))
            analyses.append(analyse_audio_batch.submit(fetches[-1], config.audio, cache_dir,
                                                       wait_for=analyses[-1:]))
        fetched, clips = [f.result() for f in fetches], [a.result() for a in analyses]
        clip_paths = [c["path"] for c in clips]
        emotion = classify_emotion(clip_paths, config.emotion, cache_dir, str(work))
        per_response = [emotion["path"]]
        if config.heads.fluency or config.heads.emotion:
            per_response.append(score_heads(clip_paths, responses, config.heads, config.audio, cache_dir,
                                            str(work))["path"])
        responses = attach_audio_features(responses, clip_paths, per_response, str(work))
        emotion_info = emotion["info"]
        work_done = {"audio_downloaded": sum(f["downloaded"] for f in fetched),
                     "tone_analysed": sum(c["analysed"] for c in clips),
                     "emotion_classified": emotion["classified"]}
        lap("audio")
    activity = phase_activity_table(timeline, sessions, responses, as_of, str(work))
    # 4. publish
    tables = {"events": ingest["events_path"], "quarantine": ingest["quarantine_path"],
              "sessions": sessions, "responses": responses, "phase_activity": activity}
    counts = stage_counts(ingest, selected, tables)
    partitions = publish_tables(tables, config.output.root, run_date)
    lap("publish")
    manifest = {
        "run_date": run_date.isoformat(), "as_of": as_of.isoformat(),
        "config_hash": cfg_hash, "config": config.model_dump(mode="json"),
        "code_version": code_version(),
        "inputs": [{**f["checksums"], "format": f["staged"]["format"]} for f in staged],
        "counts": counts, "accounting_problems": reconcile(counts),
        "tables": partitions, "timings_s": timings, "work": work_done,
        "models": {"tone": TONE_VERSION, "emotion": emotion_info},
    }
    manifest["manifest_path"] = publish_manifest(manifest, config.output.root, run_date)
    shutil.rmtree(work, ignore_errors=True)
    log.info("engage run %s: %d events, %d responses, %d learner x phase rows; tables in %s",
             run_date, counts["ingest"]["events"], counts["responses"]["responses"],
             counts["phase_activity"]["rows"], config.output.root)
    check_thresholds(counts, config.telemetry.max_quarantine_share, config.mapping.max_unmapped_share)
    return manifest
