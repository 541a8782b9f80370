"""Audio analysis speed: tone features and the emotion model, each against a baseline in one run.

Clips: speechocean762 and EmoDB from ../shared/data when present, else simulated speech.
  - tone: decode + status + tone features, one process (x real time per CPU core), warm-up
    excluded; baseline: librosa's pyin on the same clips (the usual prosody route).
  - emotion: a wav2vec2-base-size audio classifier built from config (random weights, real
    loading code), length-bucketed batches against one clip at a time (after an untimed pass of
    each, best of two alternating timed passes); CPU, and CUDA when there is a GPU (bf16 there).
Last line: ``tone_x_rt_per_core=... pyin_x_rt_per_core=... emotion_cpu_x_rt_batched=... ...``

    python benchmarks/audio.py [--clips 200] [--emotion-clips 24]
"""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def clip_paths(n: int) -> tuple[list[str], str]:
    """Return up to ``n`` real clips and where they come from (simulated when none)."""
    real = sorted(glob.glob(str(SHARED / "speechocean762" / "WAVE" / "*" / "*.WAV")))
    real += sorted(glob.glob(str(SHARED / "emodb" / "wav" / "*.wav")))
    if real:
        step = max(1, len(real) // n)
        return real[::step][:n], "speechocean762+emodb"
    import numpy as np
    import soundfile as sf

    from features.simulation.speech import synthesize_speech

    folder = Path(tempfile.mkdtemp())
    paths = []
    for i in range(n):
        y = synthesize_speech(2.0 + (i % 5), 110 + 10 * (i % 10), 0.3 + 0.6 * (i % 3) / 2, 0, 0, 25,
                              np.random.default_rng(i))
        sf.write(folder / f"{i}.wav", y, 16000)
        paths.append(str(folder / f"{i}.wav"))
    return paths, "simulated"


def bench_tone(paths: list[str]) -> dict:
    import librosa

    from audio.clips import analyse_clip
    from audio.decode import decode_audio

    for p in paths[:3]:
        analyse_clip(p)  # warm-up
    signals = [decode_audio(p)[0] for p in paths]
    seconds = sum(len(s) for s in signals) / 16000
    start = time.perf_counter()
    for p in paths:
        analyse_clip(p)
    tone = time.perf_counter() - start
    librosa.pyin(signals[0][:16000], fmin=60, fmax=500, sr=16000)  # numba warm-up
    sample = signals[: max(5, len(signals) // 10)]
    start = time.perf_counter()
    for s in sample:
        librosa.pyin(s, fmin=60, fmax=500, sr=16000, frame_length=1024, hop_length=160)
    pyin = time.perf_counter() - start
    return {"audio_s": seconds, "tone_x_rt_per_core": seconds / tone,
            "pyin_x_rt_per_core": sum(len(s) for s in sample) / 16000 / pyin}


def bench_emotion(paths: list[str], device: str) -> dict:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    from audio.decode import decode_audio
    from audio.emotion import classify_emotions, load_emotion_model

    folder = Path(tempfile.mkdtemp()) / "w2v2-base-random"
    torch.manual_seed(0)
    config = Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True, num_labels=4,
                            id2label={0: "angry", 1: "happy", 2: "neutral", 3: "sad"},
                            label2id={"angry": 0, "happy": 1, "neutral": 2, "sad": 3})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True).save_pretrained(folder)
    model = load_emotion_model(str(folder), device=device)
    signals = [decode_audio(p)[0] for p in paths]
    seconds = sum(len(s) for s in signals) / 16000
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    batch_size = 16 if device == "cpu" else 64

    def timed(batched: bool) -> float:
        start = time.perf_counter()
        if batched:
            classify_emotions(model, signals, batch_size=batch_size)
        else:
            for s in signals:
                classify_emotions(model, [s], batch_size=1)
        sync()
        return time.perf_counter() - start

    # One untimed pass each first: the first pass over new input shapes pays for kernel set-up,
    # which would go to whichever way ran first. Then each way twice, alternating; the best counts.
    timed(True), timed(False)
    batched, single = float("inf"), float("inf")
    for _ in range(2):
        batched, single = min(batched, timed(True)), min(single, timed(False))
    return {f"emotion_{device}_x_rt_batched": seconds / batched, f"emotion_{device}_x_rt_single": seconds / single,
            f"emotion_{device}_batched_vs_single": single / batched,
            f"emotion_{device}_params_m": sum(p.numel() for p in model.loaded.model.parameters()) / 1e6}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--emotion-clips", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(1)  # per-core figures
    paths, source = clip_paths(args.clips)
    result = {"clips": len(paths), "source": source, **bench_tone(paths)}
    print({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()})
    torch.set_num_threads(torch.get_num_threads() if False else max(1, len(__import__("os").sched_getaffinity(0))))
    emo_paths = paths[: args.emotion_clips]
    result.update(bench_emotion(emo_paths, "cpu"))
    if torch.cuda.is_available():
        result.update(bench_emotion(paths, "cuda"))
    print(" ".join(f"{k}={round(v, 3 if '_vs_' in k else 1) if isinstance(v, float) else v}"
                   for k, v in result.items()))


if __name__ == "__main__":
    main()
