"""The ``engagement_pipeline`` flow: telemetry in, learner x phase tables and a manifest out.

Each stage is a subflow (named in the Prefect UI and timed by Prefect); tasks pass Parquet
paths, never tables.
"""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow, unmapped
from prefect.states import Failed

from audio.emotion import EmotionOptions
from audio.tone import TONE_VERSION
from features.activity import ActivityRules
from features.attributes import AttributeOptions
from features.ingest import IngestOptions
from features.select import Selection
from features.sessions import SessionRules
from flows.config import AudioConfig, EngageConfig, HeadsConfig, RunParameters, load_run_config
from flows.runners import stage_runners
from outputs.provenance import config_hash
from outputs.tables import ATTRIBUTES_TABLE, NUDGE_TABLES
from outputs.quality import QualityGateError
from tasks.audio import (
    align_prompts,
    analyse_audio_batch,
    attach_audio_features,
    classify_emotion,
    fetch_audio_batch,
    plan_audio_batches,
    score_heads,
)
from tasks.learners import (
    cut_sessions,
    learner_attributes,
    phase_activity_table,
    place_in_curriculum,
    responses_table,
    run_clock,
    select_learners,
    sessions_table,
)
from tasks.nudges import measure_effects, plan_nudges
from tasks.risk import score_risk
from tasks.report import build_run_report, publish_run_report, report_artifacts
from tasks.scoring import (
    group_learners,
    learners_table_file,
    metrics_for_scoring,
    score_phases,
    scoring_reference,
)
from tasks.publish import (
    assemble_manifest,
    close_workspace,
    count_stages,
    keep_failed_quarantine,
    open_workspace,
    publish_export,
    publish_manifest,
    publish_tables,
    quality_verdict,
    stage_timings,
)
from tasks.telemetry import fetch_source, finalize_ingest, resolve_sources, stage_source


@flow(name="engage-ingest", flow_run_name="ingest")
def ingest_stage(sources: list[str], options: IngestOptions, project: str | None, work: str) -> dict:
    """Fetch, parse, validate and deduplicate every telemetry source, sorted by URI; files are
    staged at once as the task runner allows, each with its share of memory and threads."""
    uris = resolve_sources(sources, project)
    fetched = fetch_source.map(uris, range(len(uris)), unmapped(work), unmapped(project))
    staged = stage_source.map(fetched, range(len(uris)), unmapped(work), unmapped(options.share(len(uris))))
    return finalize_ingest(staged, work, options)


@flow(name="engage-learners", flow_run_name="learners")
def learner_stage(events: str, selection: Selection, as_of: datetime, curriculum: str,
                  rules: SessionRules, work: str) -> dict:
    """Select learners, place their events in the curriculum, cut sessions, list responses."""
    selected = select_learners(events, selection, as_of, work)
    timeline = cut_sessions(place_in_curriculum(selected["path"], curriculum, work), rules, work)
    return {"selected": selected, "timeline": timeline, "sessions": sessions_table(timeline, work),
            "responses": responses_table(timeline, curriculum, work)}


@flow(name="engage-attributes", flow_run_name="attributes")
def attributes_stage(uri: str, options: AttributeOptions, project: str | None, work: str) -> dict:
    """Read the learner attributes that break results down for fairness (never a model feature)."""
    return learner_attributes(uri, options, project, work)


@flow(name="engage-audio", flow_run_name="audio")
def audio_stage(responses: str, curriculum: str, audio: AudioConfig, emotion: EmotionOptions, heads: HeadsConfig,
                cache_dir: str, project: str | None, work: str, on_cluster: bool = False) -> dict:
    """Fetch, analyse, classify every response's audio and align it to its prompt text; join the
    results onto responses.

    In this process, batch k+1 downloads while batch k is analysed on every core; on a cluster
    (``on_cluster``) every batch is a task of its own, analysed in one worker process."""
    fetches, analyses = [], []
    workers = 1 if on_cluster else audio.analysis_workers
    for batch in plan_audio_batches(responses, audio.batch_size, work):
        fetches.append(fetch_audio_batch.submit(batch, audio.fetch, cache_dir, audio.cache_max_mb, project,
                                                wait_for=[] if on_cluster else fetches[-1:]))
        analyses.append(analyse_audio_batch.submit(fetches[-1], audio.limits, workers, cache_dir,
                                                   wait_for=[] if on_cluster else analyses[-1:]))
    clips = [a.result()["path"] for a in analyses]
    classified = classify_emotion(clips, emotion, cache_dir, work)
    aligned = align_prompts(clips, responses, curriculum, audio.analysis_workers, cache_dir, work)
    per_response = [classified["path"], aligned["path"]]
    if heads.fluency or heads.emotion:
        per_response.append(score_heads(clips, responses, aligned["path"], heads.fluency, heads.emotion,
                                        audio.analysis_workers, cache_dir, work)["path"])
    return {"responses": attach_audio_features(responses, clips, per_response, work),
            "fetched": [f.result() for f in fetches], "analysed": [a.result() for a in analyses],
            "emotion": classified, "alignment": aligned}


@flow(name="engage-features", flow_run_name="features")
def feature_stage(learners: dict, responses: str, curriculum: str, as_of: datetime, rules: ActivityRules,
                  work: str) -> dict:
    """Compute the learner x phase activity table."""
    return {"phase_activity": phase_activity_table(learners["timeline"], learners["sessions"], responses,
                                                   curriculum, as_of, rules, work)}


@flow(name="engage-scores", flow_run_name="scores")
def scoring_stage(phase_activity: str, timeline: str, responses: str, config: EngageConfig, emotion_model: str | None,
                  as_of: datetime, run_date: date, work: str) -> dict:
    """Score every learner x phase, group the learners and add their dropout risk."""
    metrics = metrics_for_scoring(phase_activity, work)
    reference = scoring_reference(metrics, phase_activity, config.registry_root, as_of, work)
    scores = score_phases(metrics, reference, config.scoring, config.heads.fluency, emotion_model, work)
    groups = group_learners(phase_activity, scores, config.registry_root, run_date, config.groups, work)
    learners = learners_table_file(phase_activity, scores, groups["assignment"], work)
    risk = score_risk(timeline, responses, scores, phase_activity, learners, config.inputs.curriculum,
                      config.registry_root, as_of, config.risk, config.activity, work)
    return {"tables": {"phase_scores": scores, "learners": risk["path"], "groups": groups["groups"]},
            "models": {"scoring_reference": {k: v for k, v in reference.items() if k != "path"},
                       "learner_groups": groups["state_version"], "risk_model": risk["model"]}}


@flow(name="engage-nudges", flow_run_name="nudges")
def nudge_stage(learners: dict, responses: str, features: dict, scores: dict, attributes: dict | None,
                config: EngageConfig, as_of: datetime, run_date: date, work: str) -> dict:
    """Measure the effects of earlier nudges, then plan this run's from the learners table and
    the nudge state of the run before."""
    effects = measure_effects(config.output.root, run_date, learners["timeline"], as_of, config.nudges, work)
    return plan_nudges(scores["tables"]["learners"], features["phase_activity"], scores["tables"]["phase_scores"],
                       responses, learners["timeline"], effects, attributes["path"] if attributes else None,
                       config.output.root, run_date, as_of, config.nudges, work)


@flow(name="engage-publish", flow_run_name="publish")
def publish_stage(config: EngageConfig, key: str, ingest: dict, learners: dict, attributes: dict | None,
                  audio: dict | None, features: dict, scores: dict, nudges: dict | None, as_of: datetime,
                  run_date: date) -> dict:
    """Publish every table's partition and the nudges' JSONL; return the run manifest with its
    counts and timings (written once the report is built)."""
    tables = {"events": ingest["events_path"], "quarantine": ingest["quarantine_path"],
              "sessions": learners["sessions"], "responses": audio["responses"] if audio else learners["responses"],
              **features, **scores["tables"],
              **({k: nudges[k] for k in NUDGE_TABLES} if nudges else {}),
              **({ATTRIBUTES_TABLE: attributes["path"]} if attributes else {})}
    counts = count_stages(ingest, learners["selected"], tables)
    published = publish_tables(tables, config.output.root, run_date)
    if nudges:
        counts["nudges"] = nudges["counts"]
        published["nudges_jsonl"] = publish_export(nudges["jsonl"], "nudges_jsonl", config.output.root, run_date)
    if attributes:
        counts["attributes"] = attributes["counts"]
    return assemble_manifest(
        run_date, as_of=as_of, config=config.model_dump(mode="json"), config_hash=key,
        ingest_files=ingest["files"], counts=counts, tables=published,
        timings_s=stage_timings(), audio=audio, tone_version=TONE_VERSION, scoring=scores["models"])


@flow(name="engage-report", flow_run_name="report")
def report_stage(config: EngageConfig, manifest: dict, run_date: date, work: str) -> dict:
    """Build the insight report and the ``insights`` table from the published tables, publish
    them, and create the run's keyed artifacts."""
    built = build_run_report(config.output.root, config.registry_root, manifest, config.fairness, work)
    published = publish_run_report(built, config.output.root, run_date)
    artifacts = report_artifacts(built, published, run_date)
    return {**published, "top_findings": built["top_findings"], "artifacts": artifacts}


@flow(name="engagement_pipeline", validate_parameters=True)
def engagement_pipeline(params: RunParameters):
    """Run the pipeline for one config; return the run manifest.

    Returns a Failed state (after writing every table and the manifest) when too much input
    was quarantined or left unmapped, or when no event survived ingest.
    """
    config = load_run_config(params.config_file)
    key = config_hash(config.model_dump(mode="json"))
    work = open_workspace(config.work_root, key[:12])
    with stage_runners(config.runner) as runner:  # the stages that fan out: one task per file, per batch
        ingest = ingest_stage.with_options(task_runner=runner(config.ingest.files_at_once()))(
            config.inputs.telemetry, config.ingest, config.storage.project, work)
        if not ingest["events"]:
            return _failed(keep_failed_quarantine(ingest, config.output.root, key, config.quality))
        as_of, run_date = run_clock(ingest["events_path"], params.as_of, params.run_date)
        learners = learner_stage(ingest["events_path"], config.select, as_of, config.inputs.curriculum,
                                 config.sessions, work)
        audio = audio_stage.with_options(task_runner=runner(None))(
            learners["responses"], config.inputs.curriculum, config.audio, config.emotion, config.heads,
            config.cache_dir, config.storage.project, work, config.runner.on_cluster) if config.audio.enabled else None
    emotion_model = _emotion_model(audio)
    attributes = attributes_stage(config.inputs.attributes, config.attributes, config.storage.project, work) \
        if config.inputs.attributes else None
    responses = audio["responses"] if audio else learners["responses"]
    features = feature_stage(learners, responses, config.inputs.curriculum, as_of, config.activity, work)
    scores = scoring_stage(features["phase_activity"], learners["timeline"], responses, config, emotion_model, as_of,
                           run_date, work)
    nudges = nudge_stage(learners, responses, features, scores, attributes, config, as_of, run_date, work) \
        if config.nudges.rules else None
    manifest = publish_stage(config, key, ingest, learners, attributes, audio, features, scores, nudges, as_of,
                             run_date)
    manifest = publish_manifest(config.output.root, run_date, manifest, report_stage(config, manifest, run_date, work))
    close_workspace(work)
    failure = quality_verdict(manifest["counts"], config.quality)
    return _failed(failure) if failure else manifest


def _emotion_model(audio: dict | None) -> str | None:
    """The emotion model (id@revision) whose output fed this run's scores, when one ran."""
    info = audio["emotion"]["info"] if audio else {}
    return f"{info['model']}@{info['revision']}" if info.get("loaded") else None


def _failed(message: str):
    """A Failed state that raises ``QualityGateError(message)`` for callers, with no traceback."""
    return Failed(message=message, data=QualityGateError(message))


def run_pipeline(config_file: str, as_of: datetime | None = None, run_date: date | None = None) -> dict:
    """Validate the config, then run ``engagement_pipeline`` (locally, on an ephemeral Prefect
    server unless ``PREFECT_API_URL`` names one); return the manifest.

    Raises any ``EngageError`` a bad config, curriculum or head file gives before the run
    starts, and ``QualityGateError`` when the run fails its data-quality limits.
    """
    load_run_config(config_file)
    return engagement_pipeline(RunParameters(config_file=config_file, as_of=as_of, run_date=run_date))
