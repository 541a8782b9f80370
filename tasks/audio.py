"""Tasks that fetch, analyse and classify response audio in batches, passing Parquet paths."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from audio.analysis import CLIP_COLUMNS, EMOTION_COLUMNS, FeatureCache, analyse_clips, classify_clips
from audio.descriptors import describe_clips
from audio.decode import AudioLimits
from audio.fetch import AudioCache, FetchPolicy, fetch_audio
from audio.tone import FEATURES
from features.audio_features import attach_audio
from features.heads import apply_heads, load_head
from flows.config import AudioConfig, EmotionConfig, HeadsConfig
from outputs.tables import write_parquet


CLIP_SCHEMA = pa.schema(
    [("response_id", pa.string()), ("language", pa.string()), ("local_path", pa.string()),
     ("audio_status", pa.string()), ("audio_detail", pa.string())]
    + [(c, pa.float64()) for c in CLIP_COLUMNS[2:] + FEATURES] + [("content_key", pa.string())])


def _limits(cfg: AudioConfig) -> AudioLimits:
    return AudioLimits(cfg.min_duration_s, cfg.max_duration_s, cfg.silence_dbfs, cfg.min_snr_db)


@task(cache_policy=NO_CACHE)
def plan_audio_batches(responses_path: str, batch_size: int, work_dir: str) -> list[str]:
    """Split the responses into batches of (response_id, user_id, audio_uri, language)."""
    table = pq.read_table(responses_path, columns=["response_id", "user_id", "audio_uri", "language"])
    folder = Path(work_dir) / "audio-batches"
    return [write_parquet(table.slice(start, batch_size), folder / f"batch-{k:04d}.parquet")
            for k, start in enumerate(range(0, max(table.num_rows, 1), batch_size))]


# The storage client's retry policy owns retries; a task retry would stack on it.
@task(cache_policy=NO_CACHE, tags=["audio-io"])
def fetch_audio_batch(batch_path: str, cfg: AudioConfig, cache_dir: str, project: str | None) -> dict:
    """Fetch one batch's audio into the content cache; return the fetched table's path and counts."""
    from audio.storage import storage_client

    batch = pq.read_table(batch_path).to_pylist()
    policy = FetchPolicy(allowed_prefixes=tuple(cfg.allowed_prefixes), workers=cfg.fetch_workers)
    needs_gcs = any((r["audio_uri"] or "").startswith("gs://") for r in batch)
    results = fetch_audio([(r["response_id"], r["user_id"], r["audio_uri"]) for r in batch], policy,
                          AudioCache(Path(cache_dir) / "audio", cfg.cache_max_mb << 20),
                          storage_client(project) if needs_gcs else None)
    table = pa.Table.from_pylist([{"response_id": r.response_id, "language": b["language"],
                                   "fetch_status": r.status, "fetch_detail": r.detail,
                                   "local_path": r.path} for r, b in zip(results, batch)])
    path = write_parquet(table, batch_path.replace(".parquet", "-fetched.parquet"))
    return {"path": path, "downloaded": sum(r.downloaded for r in results)}


@task(cache_policy=NO_CACHE)
def analyse_audio_batch(fetched_batch: dict, cfg: AudioConfig, cache_dir: str) -> dict:
    """Decode, judge and extract tone for one fetched batch; return the clips table's path."""
    fetched_path = fetched_batch["path"]
    fetched = pq.read_table(fetched_path).to_pylist()
    ok = [r for r in fetched if r["fetch_status"] == "ok"]
    results, analysed = analyse_clips([r["local_path"] for r in ok], FeatureCache(cache_dir),
                                      _limits(cfg), cfg.analysis_workers)
    by_id = {r["response_id"]: res for r, res in zip(ok, results)}
    rows = []
    for r in fetched:
        res = by_id.get(r["response_id"]) or {**dict.fromkeys(CLIP_COLUMNS + FEATURES),
                                              "audio_status": r["fetch_status"], "audio_detail": r["fetch_detail"],
                                              "content_key": None}
        rows.append({"response_id": r["response_id"], "language": r["language"],
                     "local_path": r["local_path"], **res})
    path = write_parquet(pa.Table.from_pylist(rows, schema=CLIP_SCHEMA), fetched_path.replace("-fetched", "-clips"))
    return {"path": path, "analysed": analysed}


@task(cache_policy=NO_CACHE)
def classify_emotion(clip_paths: list[str], cfg: EmotionConfig, cache_dir: str, work_dir: str) -> dict:
    """Load the emotion model once and classify every analysable clip in a covered language.

    A model that cannot be loaded leaves emotion columns null with a status saying why.
    """
    from audio.emotion import EmotionModelUnavailable, load_emotion_model

    model, reason = None, None
    if cfg.model:
        try:
            model = load_emotion_model(cfg.model, device=cfg.device, revision=cfg.revision)
        except EmotionModelUnavailable as exc:
            reason = str(exc)
            get_run_logger().warning("emotion analysis skipped: %s", reason)
    clips = [r for p in clip_paths for r in pq.read_table(
        p, columns=["response_id", "content_key", "local_path", "language", "audio_status"]).to_pylist()]
    rows, classified = classify_clips(clips, model, reason, cfg.languages, FeatureCache(cache_dir), cfg.batch_size)
    schema = pa.schema([("response_id", pa.string())] + [
        (c, pa.float64() if c in ("emotion_confidence", "valence", "arousal") else pa.string())
        for c in EMOTION_COLUMNS])
    table = pa.Table.from_pylist([{"response_id": c["response_id"], **r} for c, r in zip(clips, rows)], schema=schema)
    info = {"model": cfg.model, "loaded": model is not None, "unavailable": reason,
            "revision": model.revision if model else None, "device": model.device if model else None,
            "labels": model.labels if model else None}
    return {"path": write_parquet(table, Path(work_dir) / "emotion.parquet"), "info": info, "classified": classified}


@task(cache_policy=NO_CACHE)
def score_heads(clip_paths: list[str], responses_path: str, heads: HeadsConfig, cfg: AudioConfig,
                cache_dir: str, work_dir: str) -> dict:
    """Apply the trained fluency and emotion heads to every analysable clip; return the path
    of the per-response scores and how many clips needed new descriptors."""
    import pandas as pd

    clips = pa.concat_tables([pq.read_table(p, columns=["response_id", "content_key", "local_path", "audio_status"])
                              for p in clip_paths]).to_pandas()
    users = pq.read_table(responses_path, columns=["response_id", "user_id"]).to_pandas()
    ok = clips[clips["audio_status"] == "ok"].merge(users, on="response_id")
    descriptors, computed = describe_clips(list(ok["local_path"]), list(ok["content_key"]),
                                           FeatureCache(cache_dir), cfg.analysis_workers)
    fluency = load_head(heads.fluency) if heads.fluency else None
    emotion = load_head(heads.emotion) if heads.emotion else None
    ssl_models = {h.ssl_model for h in (fluency, emotion) if h is not None and h.ssl_model}
    if len(ssl_models) > 1:
        raise ValueError(f"the heads were trained on different SSL models {sorted(ssl_models)}; use one")
    if ssl_models and len(ok):
        from audio.decode import decode_audio
        from audio.ssl import load_ssl_model, pooled_embeddings

        vectors = pooled_embeddings(load_ssl_model(ssl_models.pop()), [decode_audio(p)[0] for p in ok["local_path"]])
        descriptors = descriptors.join(pd.DataFrame(vectors, columns=[f"ssl_{k}" for k in range(vectors.shape[1])]))
    scores = apply_heads(descriptors, ok["user_id"].to_numpy(), fluency, emotion)
    table = pd.concat([ok[["response_id"]].reset_index(drop=True), scores.reset_index(drop=True)], axis=1)
    schema = pa.schema([("response_id", pa.string()), ("fluency_score", pa.float64()),
                        ("head_emotion_label", pa.string()), ("head_emotion_confidence", pa.float64())])
    path = write_parquet(pa.Table.from_pandas(table, schema=schema, preserve_index=False),
                         Path(work_dir) / "head-scores.parquet")
    return {"path": path, "descriptors_computed": computed}


@task(cache_policy=NO_CACHE)
def attach_audio_features(responses_path: str, clip_paths: list[str], per_response_paths: list[str],
                          work_dir: str) -> str:
    """Join clip facts, tone, emotion and head scores onto the responses; return the new path."""
    clips = pa.concat_tables([pq.read_table(p) for p in clip_paths]).drop_columns(["language", "local_path"])
    table = attach_audio(pq.read_table(responses_path), clips, list(FEATURES),
                         *[pq.read_table(p) for p in per_response_paths])
    return write_parquet(table, Path(work_dir) / "responses-audio.parquet")
