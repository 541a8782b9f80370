"""Emotion for many analysed clips: who gets classified, batched inference, cached by content."""

from __future__ import annotations

import json

from audio.decode import decode_audio
from audio.emotion import EmotionModel, classify_emotions
from audio.feature_cache import FeatureCache
from features.statuses import AudioStatus, EmotionStatus

EMOTION_COLUMNS = ("emotion_status", "emotion_detail", "emotion_model", "emotion_model_revision",
                   "emotion_label", "emotion_confidence", "emotion_scores", "valence", "arousal",
                   "emotion_balance")
# Class labels of common speech-emotion models, by the sign they give the emotion balance.
POSITIVE = frozenset({"hap", "happy", "happiness", "joy", "excited", "excitement", "pleasant", "calm"})
NEGATIVE = frozenset({"ang", "angry", "anger", "sad", "sadness", "fear", "fearful", "disgust", "boredom",
                      "bored", "frustrated", "frustration", "contempt"})


def emotion_balance(scores: dict[str, float], dimensional: bool) -> float | None:
    """Return valence for a dimensional model, else P(positive labels) - P(negative labels)
    (-1 to 1; labels neither positive nor negative, such as neutral, count for neither)."""
    if dimensional:
        return scores.get("valence")
    lower = {k.lower(): v for k, v in scores.items()}
    return sum(v for k, v in lower.items() if k in POSITIVE) - sum(v for k, v in lower.items() if k in NEGATIVE)


def classify_clips(clips: list[dict], model: EmotionModel | None, unavailable: str | None,
                   languages: tuple[str, ...], cache: FeatureCache, batch_size: int = 16,
                   chunk: int = 256) -> tuple[list[dict], int]:
    """Return (emotion columns per clip, number classified now).

    ``clips`` carry response_id, content_key, local_path, language and audio_status. ``model``
    is a loaded ``EmotionModel``, or None with ``unavailable`` saying why (None: no model was
    configured). Only clips with audio status ``ok`` in a covered language are classified; the
    others get the status that says why. Signals are decoded ``chunk`` at a time.
    """
    empty = dict.fromkeys(EMOTION_COLUMNS)
    rows = []
    for clip in clips:
        if model is None:
            status = EmotionStatus.UNAVAILABLE if unavailable else EmotionStatus.NO_MODEL
        elif clip["audio_status"] != AudioStatus.OK:
            status = EmotionStatus.NO_AUDIO
        elif clip["language"] not in languages:
            status = EmotionStatus.LANGUAGE_NOT_COVERED
        else:
            status = EmotionStatus.OK
        rows.append({**empty, "emotion_status": status.value,
                     "emotion_detail": unavailable if status is EmotionStatus.UNAVAILABLE else None})
    if model is None:
        return rows, 0
    wanted = [i for i, r in enumerate(rows) if r["emotion_status"] == EmotionStatus.OK]
    path_of = {clips[i]["content_key"]: clips[i]["local_path"] for i in wanted}

    def classify(keys: list[str]) -> list[dict]:
        scores = []
        for start in range(0, len(keys), chunk):
            signals = [decode_audio(path_of[k])[0] for k in keys[start:start + chunk]]
            scores += classify_emotions(model, signals, batch_size=batch_size)
        return scores

    results, classified = cache.compute_missing(list(path_of), f"{model.model_id}|{model.revision}", classify)
    for i in wanted:
        scores = results[clips[i]["content_key"]]
        row = {**rows[i], "emotion_model": model.model_id, "emotion_model_revision": model.revision,
               "emotion_scores": json.dumps(scores), "emotion_balance": emotion_balance(scores, model.is_dimensional)}
        if model.is_dimensional:
            row.update(valence=scores.get("valence"), arousal=scores.get("arousal"))
        else:
            label = max(scores, key=scores.get)
            row.update(emotion_label=label, emotion_confidence=scores[label])
        rows[i] = row
    return rows, classified
