"""Forced alignment for many analysed clips: who gets aligned, cached by content and text."""

from __future__ import annotations

import hashlib

from audio.alignment import ALIGNMENT_FEATURES, ALIGNMENT_VERSION, align_files, prompt_words
from audio.feature_cache import FeatureCache
from features.statuses import AlignmentStatus, AudioStatus

ALIGNMENT_COLUMNS = ("alignment_status", "alignment_detail", "prompt_words", *ALIGNMENT_FEATURES)
ALIGNED_LANGUAGES = ("en",)  # pocketsphinx's model and dictionary are (US) English


def align_clip_texts(clips: list[dict], texts: list[str | None], cache: FeatureCache,
                     workers: int | None = None) -> tuple[list[dict], int, int]:
    """Return (``ALIGNMENT_COLUMNS`` per clip, how many distinct clip x text pairs were aligned
    now, and how many were found in the cache).

    ``clips`` carry content_key, local_path, language and audio_status; ``texts[i]`` is the
    prompt text of clip i (None when the curriculum gives none). Only clips with audio status
    ``ok``, a text and an English course language are aligned; the others get the status that
    says why. Results are cached under the clip's content and the text."""
    empty = dict.fromkeys(ALIGNMENT_COLUMNS)
    rows, todo = [], {}
    for clip, text in zip(clips, texts):
        words = len(prompt_words(text))
        row = {**empty, "prompt_words": float(words) if words else None}
        if clip["audio_status"] != AudioStatus.OK:
            row["alignment_status"] = AlignmentStatus.NO_AUDIO.value
        elif not words:
            row["alignment_status"] = AlignmentStatus.NO_TEXT.value
        elif (clip["language"] or "").split("-")[0].lower() not in ALIGNED_LANGUAGES:
            row.update(alignment_status=AlignmentStatus.NOT_ALIGNED.value,
                       alignment_detail=f"no pronunciation model for language {clip['language']!r}")
        else:
            key = f"{clip['content_key']}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            todo[key] = (clip["local_path"], text)
            row["_key"] = key
        rows.append(row)

    def align(keys: list[str]) -> list[dict]:
        return align_files([todo[k][0] for k in keys], [todo[k][1] for k in keys], workers)

    results, aligned = cache.compute_missing(list(todo), ALIGNMENT_VERSION, align)
    for row in rows:
        if "_key" in row:  # features null, not NaN, where undefined (as in the tables)
            row.update({k: None if v != v else v for k, v in results[row.pop("_key")].items()})
    return rows, aligned, len(todo) - aligned
