"""Score the pipeline's analysable clips with trained heads."""

from __future__ import annotations

import pandas as pd

from audio.descriptors import describe_clips
from audio.feature_cache import FeatureCache
from audio.heads.model import Head, HeadFileError, apply_heads, with_prompt_inputs


def score_clips(paths: list[str], keys: list[str], learners: list[str], fluency: Head | None,
                emotion: Head | None, cache: FeatureCache, workers: int | None = None,
                prompt: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Return (``fluency_score``, ``head_emotion_label``, ``head_emotion_confidence`` per clip,
    in order; how many clips needed new descriptors). Descriptors come from the cache when it
    has them; pooled embeddings are computed when a head was trained with them; ``prompt``
    (row-aligned ``prompt_words`` and ``audio.alignment`` features, NaN without a prompt text)
    gives the prompt features.

    Raises:
        HeadFileError: the two heads were trained on different self-supervised models.
    """
    from audio.heads.training import ssl_columns

    descriptors, computed = describe_clips(paths, keys, cache, workers)
    if prompt is not None and len(descriptors):
        descriptors = with_prompt_inputs(descriptors, prompt["prompt_words"], prompt)
    ssl_models = {h.ssl_model for h in (fluency, emotion) if h is not None and h.ssl_model}
    if len(ssl_models) > 1:
        raise HeadFileError(f"the heads were trained on different SSL models {sorted(ssl_models)}; use one")
    if ssl_models and paths:
        descriptors = descriptors.join(ssl_columns(ssl_models.pop(), paths))
    return apply_heads(descriptors, learners, fluency, emotion).reset_index(drop=True), computed
