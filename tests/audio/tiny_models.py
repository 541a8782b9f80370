"""A tiny random Wav2Vec2 audio-classification model, built and saved locally by tests."""

from __future__ import annotations

from pathlib import Path

EMOTIONS = ("angry", "happy", "neutral", "sad")


def build_tiny_wav2vec2(folder: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Save a random Wav2Vec2ForSequenceClassification (layer-norm feature encoder, so an
    attention mask keeps padding out of the result) and its feature extractor to ``folder``."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(seed)
    config = Wav2Vec2Config(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden,
        conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8), feat_extract_norm="layer",
        do_stable_layer_norm=True, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        classifier_proj_size=16, num_labels=len(EMOTIONS),
        id2label=dict(enumerate(EMOTIONS)), label2id={e: i for i, e in enumerate(EMOTIONS)},
        mask_time_prob=0.0)
    model = Wav2Vec2ForSequenceClassification(config).eval()
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=True)
    folder = Path(folder)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder
