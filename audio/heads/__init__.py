"""Trainable heads on utterance descriptors: emotion classification and fluency regression,
their training corpora, speaker-independent evaluation and saved model files."""
