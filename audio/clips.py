"""Analyse fetched clips: decode, judge, extract tone; results cached by content.

``analyse_clip`` works on one file; ``analyse_clips`` on many, over worker processes, skipping
clips whose results the ``FeatureCache`` already holds for this tone version and these limits.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from audio.decode import AudioLimits, DecodeError, audio_status, decode_audio
from audio.feature_cache import FeatureCache
from audio.tone import FEATURES, TONE_VERSION, extract_tone
from features.parallel import process_map
from features.statuses import AudioStatus

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
        row.update(audio_status=AudioStatus.CORRUPT.value, audio_detail=str(exc).split(": ", 1)[-1][:300])
        return row
    status = audio_status(info, limits)
    row.update(audio_status=status.value, audio_duration_s=info.duration_s,
               clipping_share=info.clipping_share, snr_db=info.snr_db)
    if status is AudioStatus.OK:
        row.update({k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in extract_tone(signal).items()})
    return row


def analyse_clips(paths: list[str], cache: FeatureCache, limits: AudioLimits = AudioLimits(),
                  workers: int | None = None) -> tuple[list[dict], int]:
    """Return (one result per path, number analysed now); cached results are reused.

    Each result is ``analyse_clip``'s plus ``content_key``.
    """
    keys = [content_key(p) for p in paths]
    path_of = dict(zip(keys, paths))
    results, analysed = cache.compute_missing(
        keys, f"{TONE_VERSION}|{limits}",
        lambda todo: process_map(analyse_clip, [path_of[k] for k in todo], [limits] * len(todo),
                                 workers=workers))
    return [{**results[k], "content_key": k} for k in keys], analysed
