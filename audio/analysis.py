"""Analyse many fetched clips: decode, judge, extract tone; cache results by content.

``analyse_clip`` works on one file; ``analyse_clips`` on many, over worker processes, skipping
clips whose results the ``FeatureCache`` already holds for this feature version.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from audio.decode import AudioLimits, DecodeError, audio_status, decode_audio
from audio.tone import FEATURES, TONE_VERSION, extract_tone

CLIP_COLUMNS = ("audio_status", "audio_detail", "audio_duration_s", "clipping_share", "snr_db")


def content_key(path: str | Path) -> str:
    """Return the sha256 of a file's bytes (the cache key of everything computed from it)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def analyse_clip(path: str, limits: AudioLimits = AudioLimits()) -> dict:
    """Return the clip's status, facts and (when ``ok``) tone features; never raises for bad
    audio (status ``corrupt`` with the decoder's reason)."""
    row = dict.fromkeys(CLIP_COLUMNS + FEATURES, None)
    try:
        signal, info = decode_audio(path)
    except DecodeError as exc:
        row.update(audio_status="corrupt", audio_detail=str(exc).split(": ", 1)[-1][:300])
        return row
    status = audio_status(info, limits)
    row.update(audio_status=status, audio_duration_s=info.duration_s,
               clipping_share=info.clipping_share, snr_db=info.snr_db)
    if status == "ok":
        row.update({k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in extract_tone(signal).items()})
    return row


def one_native_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread per process (the pool is the parallelism;
    nested thread pools oversubscribe the cores and run twice as slow)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


class FeatureCache:
    """Analysis results keyed by (content hash, feature version) and, for emotion, by
    (content hash, model id, model revision). Thread-safe; SQLite under ``root``."""

    def __init__(self, root: str | Path):
        Path(root).mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(Path(root) / "features.sqlite", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT, version TEXT, value TEXT, "
                         "PRIMARY KEY (key, version))")
        self._db.commit()

    def get_many(self, keys: list[str], version: str) -> dict[str, dict]:
        """Return ``key -> result`` for the keys cached under ``version``."""
        found: dict[str, dict] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in self._db.execute(
                        f"SELECT key, value FROM results WHERE version = ? AND key IN ({marks})",
                        [version, *chunk]):
                    found[key] = json.loads(value)
        return found

    def put_many(self, items: dict[str, dict], version: str) -> None:
        """Store ``key -> result`` under ``version``."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                                 [(k, version, json.dumps(v)) for k, v in items.items()])
            self._db.commit()


def analyse_clips(paths: list[str], cache: FeatureCache, limits: AudioLimits = AudioLimits(),
                  workers: int | None = None) -> tuple[list[dict], int]:
    """Return (one result per path, number analysed now); cached results are reused.

    Each result is ``analyse_clip``'s plus ``content_key``.
    """
    keys = [content_key(p) for p in paths]
    version = f"{TONE_VERSION}|{limits}"
    cached = cache.get_many(sorted(set(keys)), version)
    todo = sorted({k: p for k, p in zip(keys, paths) if k not in cached}.items())
    fresh: dict[str, dict] = {}
    if todo:
        if len(todo) < 8 or workers == 1:
            results = [analyse_clip(p, limits) for _, p in todo]
        else:
            # spawn, not fork: the caller (Prefect, tests) has threads running.
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=one_native_thread) as pool:
                results = list(pool.map(analyse_clip, [p for _, p in todo], [limits] * len(todo),
                                        chunksize=16))
        fresh = {k: r for (k, _), r in zip(todo, results)}
        cache.put_many(fresh, version)
    every = {**cached, **fresh}
    return [{**every[k], "content_key": k} for k in keys], len(todo)


EMOTION_COLUMNS = ("emotion_status", "emotion_model", "emotion_model_revision", "emotion_label",
                   "emotion_confidence", "emotion_scores", "valence", "arousal")


def classify_clips(clips: list[dict], model, unavailable: str | None, languages: list[str],
                   cache: FeatureCache, batch_size: int = 16, chunk: int = 256) -> tuple[list[dict], int]:
    """Return (emotion columns per clip, number classified now).

    ``clips`` carry response_id, content_key, local_path, language and audio_status. ``model``
    is a loaded ``EmotionModel`` or None with ``unavailable`` saying why. Only clips with
    status ``ok`` in a covered language are classified; the others get a status that says why.
    Results are cached by (content, model id, revision).
    """
    from audio.emotion import classify_emotions

    empty = dict.fromkeys(EMOTION_COLUMNS)
    rows = []
    for clip in clips:
        if model is None:
            status = f"unavailable: {unavailable}" if unavailable else "no_model"
        elif clip["audio_status"] != "ok":
            status = "no_audio"
        elif clip["language"] not in languages:
            status = "language_not_covered"
        else:
            status = "pending"
        rows.append({**empty, "emotion_status": status})
    if model is None:
        return rows, 0
    version = f"{model.model_id}|{model.revision}"
    pending = [i for i, r in enumerate(rows) if r["emotion_status"] == "pending"]
    cached = cache.get_many(sorted({clips[i]["content_key"] for i in pending}), version)
    todo = [i for i in pending if clips[i]["content_key"] not in cached]
    fresh: dict[str, dict] = {}
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        signals = [decode_audio(clips[i]["local_path"])[0] for i in part]
        for i, scores in zip(part, classify_emotions(model, signals, batch_size=batch_size)):
            fresh[clips[i]["content_key"]] = scores
    cache.put_many(fresh, version)
    every = {**cached, **fresh}
    for i in pending:
        scores = every[clips[i]["content_key"]]
        row = {"emotion_status": "ok", "emotion_model": model.model_id,
               "emotion_model_revision": model.revision, "emotion_scores": json.dumps(scores)}
        if model.is_dimensional:
            row.update(valence=scores.get("valence"), arousal=scores.get("arousal"))
        else:
            label = max(scores, key=scores.get)
            row.update(emotion_label=label, emotion_confidence=scores[label])
        rows[i] = {**empty, **row}
    return rows, len(todo)
