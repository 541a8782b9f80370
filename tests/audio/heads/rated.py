"""A speechocean762-format folder of simulated answers, for training and evaluating fluency heads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf

from features.simulation.speech import synthesize_speech


def rated_folder(folder, speakers: int = 8, clips: int = 20, text: str | None = None):
    """Write ``subset_manifest.csv`` and ``WAVE/<speaker>/*.WAV`` into ``folder``: each clip's
    expert ratings follow the fluency trait its synthetic voice carries; the first 15 clips of a
    speaker are ``stratified``, the rest a low-score supplement; a ``text`` column when given.
    Returns ``folder``."""
    rows = []
    for s in range(1, speakers + 1):
        speaker = f"{s:04d}"
        (folder / "WAVE" / speaker).mkdir(parents=True)
        for k in range(clips):
            rng = np.random.default_rng(s * 100 + k)
            trait = rng.normal()
            path = f"WAVE/{speaker}/{speaker}{k:02d}.WAV"
            sf.write(folder / path, synthesize_speech(2.0, 110.0 + 12 * s, 0.6, trait, 0.0, 25.0, rng), 16000)
            score = float(np.clip(6 + 1.5 * trait, 0, 10))
            rows.append({"wav_path": path, "speaker": speaker, **({"text": text} if text else {}),
                         "selection": "stratified-cell" if k < 15 else "low-score-supplement",
                         **{f"prerelease_median_{m}": score for m in ("fluency", "prosodic", "total", "accuracy")}})
    pd.DataFrame(rows).to_csv(folder / "subset_manifest.csv", index=False)
    return folder
