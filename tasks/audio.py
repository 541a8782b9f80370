"""Tasks that fetch, analyse and classify response audio in batches, passing Parquet paths."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from audio.alignment import ALIGNMENT_FEATURES
from audio.alignment_clips import align_clip_texts
from audio.clips import CLIP_COLUMNS, analyse_clips
from audio.decode import AudioLimits
from audio.emotion import EmotionOptions, load_emotion_model
from audio.emotion_clips import EMOTION_COLUMNS, classify_clips
from audio.feature_cache import FeatureCache
from audio.fetch import AudioCache, FetchPolicy, fetch_audio
from audio.heads.model import load_head
from audio.heads.scoring import score_clips
from audio.pretrained import ModelUnavailable
from audio.tone import FEATURES
from features.audio_features import attach_audio
from features.curriculum import load_curriculum
from features.statuses import AudioStatus, EmotionStatus
from outputs.tables import write_parquet

CLIP_SCHEMA = pa.schema(
    [("response_id", pa.string()), ("language", pa.string()), ("local_path", pa.string()),
     ("audio_status", pa.string()), ("audio_detail", pa.string())]
    + [(c, pa.float64()) for c in CLIP_COLUMNS[2:] + FEATURES] + [("content_key", pa.string())])
EMOTION_SCHEMA = pa.schema([("response_id", pa.string())] + [
    (c, pa.float64() if c in ("emotion_confidence", "valence", "arousal", "emotion_balance") else pa.string())
    for c in EMOTION_COLUMNS])
ALIGNMENT_SCHEMA = pa.schema([("response_id", pa.string()), ("alignment_status", pa.string()),
                              ("alignment_detail", pa.string())]
                             + [(c, pa.float64()) for c in ("prompt_words", *ALIGNMENT_FEATURES)])
HEAD_SCHEMA = pa.schema([("response_id", pa.string()), ("fluency_score", pa.float64()),
                         ("head_emotion_label", pa.string()), ("head_emotion_confidence", pa.float64())])


@task(cache_policy=NO_CACHE)
def plan_audio_batches(responses_path: str, batch_size: int, work_dir: str) -> list[str]:
    """Split the responses into batches of (response_id, user_id, audio_uri, language); return
    the batch files."""
    table = pq.read_table(responses_path, columns=["response_id", "user_id", "audio_uri", "language"])
    folder = Path(work_dir) / "audio-batches"
    return [write_parquet(table.slice(start, batch_size), folder / f"batch-{k:04d}.parquet")
            for k, start in enumerate(range(0, max(table.num_rows, 1), batch_size))]


# The storage client's retry policy owns retries; a task retry would stack on it.
@task(cache_policy=NO_CACHE, tags=["audio-io"])
def fetch_audio_batch(batch_path: str, policy: FetchPolicy, cache_dir: str, cache_max_mb: int,
                      project: str | None) -> dict:
    """Fetch one batch's audio into the content cache; return the fetched table's path, how
    many files were downloaded and how many were found in the cache."""
    from audio.storage import storage_client

    batch = pq.read_table(batch_path).to_pylist()
    needs_gcs = any((r["audio_uri"] or "").startswith("gs://") for r in batch)
    results = fetch_audio([(r["response_id"], r["user_id"], r["audio_uri"]) for r in batch], policy,
                          AudioCache(Path(cache_dir) / "audio", cache_max_mb << 20),
                          storage_client(project) if needs_gcs else None)
    table = pa.Table.from_pylist([{"response_id": r.response_id, "language": b["language"],
                                   "fetch_status": r.status.value, "fetch_detail": r.detail,
                                   "local_path": r.path} for r, b in zip(results, batch)])
    path = write_parquet(table, batch_path.replace(".parquet", "-fetched.parquet"))
    return {"path": path, "downloaded": sum(r.downloaded for r in results),
            "cache_hits": sum(r.status == AudioStatus.OK and not r.downloaded for r in results)}


@task(cache_policy=NO_CACHE)
def analyse_audio_batch(fetched_batch: dict, limits: AudioLimits, workers: int | None, cache_dir: str) -> dict:
    """Decode, judge and extract tone for one fetched batch; return the clips table's path, how
    many distinct clips were analysed now and how many were found in the cache."""
    fetched_path = fetched_batch["path"]
    fetched = pq.read_table(fetched_path).to_pylist()
    ok = [r for r in fetched if r["fetch_status"] == AudioStatus.OK]
    results, analysed = analyse_clips([r["local_path"] for r in ok], FeatureCache(cache_dir), limits, workers)
    by_id = {r["response_id"]: res for r, res in zip(ok, results)}
    rows = []
    for r in fetched:
        res = by_id.get(r["response_id"]) or {**dict.fromkeys(CLIP_COLUMNS + FEATURES),
                                              "audio_status": r["fetch_status"], "audio_detail": r["fetch_detail"],
                                              "content_key": None}
        rows.append({"response_id": r["response_id"], "language": r["language"],
                     "local_path": r["local_path"], **res})
    path = write_parquet(pa.Table.from_pylist(rows, schema=CLIP_SCHEMA), fetched_path.replace("-fetched", "-clips"))
    return {"path": path, "analysed": analysed,
            "cache_hits": len({res["content_key"] for res in results}) - analysed}


@task(cache_policy=NO_CACHE)
def classify_emotion(clip_paths: list[str], options: EmotionOptions, cache_dir: str, work_dir: str) -> dict:
    """Load the emotion model once and classify every analysable clip in a covered language;
    return the per-response path, what the manifest records of the model, and how many distinct
    clips were classified now and found in the cache. A model that cannot be loaded leaves the
    emotion columns null, with status ``unavailable`` and the reason in ``emotion_detail``."""
    model, reason = None, None
    if options.model:
        try:
            model = load_emotion_model(options.model, device=options.device, revision=options.revision)
        except ModelUnavailable as exc:
            reason = str(exc)
            get_run_logger().warning("emotion analysis skipped: %s", reason)
    clips = [r for p in clip_paths for r in pq.read_table(
        p, columns=["response_id", "content_key", "local_path", "language", "audio_status"]).to_pylist()]
    rows, classified = classify_clips(clips, model, reason, options.languages, FeatureCache(cache_dir),
                                      options.batch_size)
    table = pa.Table.from_pylist([{"response_id": c["response_id"], **r} for c, r in zip(clips, rows)],
                                 schema=EMOTION_SCHEMA)
    info = {"model": options.model, "loaded": model is not None, "unavailable": reason,
            "revision": model.revision if model else None, "device": model.device if model else None,
            "labels": model.labels if model else None}
    wanted = {c["content_key"] for c, r in zip(clips, rows) if r["emotion_status"] == EmotionStatus.OK}
    return {"path": write_parquet(table, Path(work_dir) / "emotion.parquet"), "info": info, "classified": classified,
            "cache_hits": len(wanted) - classified}


@task(cache_policy=NO_CACHE)
def align_prompts(clip_paths: list[str], responses_path: str, curriculum_path: str, workers: int | None,
                  cache_dir: str, work_dir: str) -> dict:
    """Align every analysable answer to its prompt's text (the curriculum's ``prompts``);
    return the per-response path (``alignment_status``, ``alignment_detail``, ``prompt_words``
    and the alignment features), and how many distinct clip x text pairs were aligned now and
    found in the cache."""
    clips = pa.concat_tables([pq.read_table(p, columns=["response_id", "content_key", "local_path", "language",
                                                        "audio_status"]) for p in clip_paths]).to_pylist()
    prompts = {(r["course_id"], r["prompt_id"]): r["text"]
               for r in load_curriculum(curriculum_path).prompts.to_pylist()}
    text_of = {r["response_id"]: prompts.get((r["course_id"], r["prompt_id"])) for r in pq.read_table(
        responses_path, columns=["response_id", "course_id", "prompt_id"]).to_pylist()}
    texts = [text_of.get(c["response_id"]) for c in clips]
    rows, aligned, hits = align_clip_texts(clips, texts, FeatureCache(cache_dir), workers)
    table = pa.Table.from_pylist([{"response_id": c["response_id"], **r} for c, r in zip(clips, rows)],
                                 schema=ALIGNMENT_SCHEMA)
    return {"path": write_parquet(table, Path(work_dir) / "alignment.parquet"), "aligned": aligned,
            "cache_hits": hits}


@task(cache_policy=NO_CACHE)
def score_heads(clip_paths: list[str], responses_path: str, alignment_path: str, fluency_head: str | None,
                emotion_head: str | None, workers: int | None, cache_dir: str, work_dir: str) -> dict:
    """Apply the trained fluency and emotion heads to every analysable clip (with the prompt
    features of ``align_prompts``' table); return the path of the per-response scores and how
    many clips needed new descriptors."""
    clips = pa.concat_tables([pq.read_table(p, columns=["response_id", "content_key", "local_path", "audio_status"])
                              for p in clip_paths]).to_pandas()
    users = pq.read_table(responses_path, columns=["response_id", "user_id"]).to_pandas()
    ok = (clips[clips["audio_status"] == AudioStatus.OK].merge(users, on="response_id")
          .merge(pq.read_table(alignment_path).to_pandas(), on="response_id", how="left"))
    scores, computed = score_clips(
        list(ok["local_path"]), list(ok["content_key"]), list(ok["user_id"]),
        load_head(fluency_head, "fluency") if fluency_head else None,
        load_head(emotion_head, "emotion") if emotion_head else None, FeatureCache(cache_dir), workers,
        prompt=ok)
    table = pa.Table.from_pandas(scores.assign(response_id=list(ok["response_id"])), schema=HEAD_SCHEMA,
                                 preserve_index=False)
    return {"path": write_parquet(table, Path(work_dir) / "head-scores.parquet"), "descriptors_computed": computed}


@task(cache_policy=NO_CACHE)
def attach_audio_features(responses_path: str, clip_paths: list[str], per_response_paths: list[str],
                          work_dir: str) -> str:
    """Join clip facts, tone, emotion and head scores onto the responses; return the new path."""
    clips = pa.concat_tables([pq.read_table(p) for p in clip_paths]).drop_columns(["language", "local_path"])
    table = attach_audio(pq.read_table(responses_path), clips, list(FEATURES),
                         *[pq.read_table(p) for p in per_response_paths])
    return write_parquet(table, Path(work_dir) / "responses-audio.parquet")
