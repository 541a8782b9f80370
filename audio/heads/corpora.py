"""Read labelled speech corpora for training and evaluating heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from audio.alignment import prompt_words
from features.errors import EngageError


class CorpusError(EngageError):
    """A manifest that cannot be used; the message names the file and the column."""


def read_labelled_manifest(csv: str | Path, file_col: str = "file", speaker_col: str = "speaker",
                           label_col: str = "emotion") -> pd.DataFrame:
    """Return ``path, speaker, label`` rows from a CSV (EmoDB's columns by default); file paths
    are relative to the CSV's folder. Raises CorpusError naming a missing column or file."""
    csv = Path(csv)
    if not csv.is_file():
        raise CorpusError(f"{csv}: no such manifest file")
    frame = pd.read_csv(csv, dtype=str)
    for col in (file_col, speaker_col, label_col):
        if col not in frame:
            raise CorpusError(f"{csv}: no column {col!r} (columns: {', '.join(frame.columns)})")
    out = pd.DataFrame({"path": [str(csv.parent / p) for p in frame[file_col]],
                        "speaker": frame[speaker_col].astype(str), "label": frame[label_col].astype(str)})
    missing = [p for p in out["path"] if not Path(p).exists()]
    if missing:
        raise CorpusError(f"{csv}: {len(missing)} audio file(s) not found, e.g. {missing[0]}")
    return out


def read_rated_folder(folder: str | Path) -> pd.DataFrame:
    """Return ``path, speaker, fluency, prosodic, total, accuracy`` (and ``selection``, and
    ``text`` with ``prompt_words`` when the manifest has them) from a speechocean762-format folder
    (``subset_manifest.csv`` with ``wav_path``, ``speaker``, ``prerelease_median_*``)."""
    folder = Path(folder)
    csv = folder / "subset_manifest.csv"
    if not csv.exists():
        raise CorpusError(f"{folder}: no subset_manifest.csv")
    frame = pd.read_csv(csv, dtype={"speaker": str})
    needed = ["wav_path", "speaker"] + [f"prerelease_median_{k}" for k in ("fluency", "prosodic", "total", "accuracy")]
    absent = [c for c in needed if c not in frame]
    if absent:
        raise CorpusError(f"{csv}: no column(s) {absent}")
    out = pd.DataFrame({
        "path": [str(folder / p) for p in frame["wav_path"]], "speaker": frame["speaker"].astype(str),
        **{k: frame[f"prerelease_median_{k}"].astype(float) for k in ("fluency", "prosodic", "total", "accuracy")},
    })
    if "selection" in frame:  # why the clip is in the subset (stratified sample, low scores, ...)
        out["selection"] = frame["selection"].fillna("").astype(str)
    if "text" in frame:  # the prompt read aloud: its length is known to the app too
        out["text"] = frame["text"].fillna("").astype(str)
        out["prompt_words"] = [float(len(prompt_words(t))) or np.nan for t in out["text"]]  # no word: no text
    return out


def heuristic_subscores(descriptors: pd.DataFrame) -> pd.DataFrame:
    """Return ``expressiveness`` and ``confidence`` (0-100) from descriptors. Heuristics, not
    validated models: expressiveness rises with pitch range and loudness range; confidence
    with loudness and voicing and falls with pause share (each as a z-score within the frame)."""
    def z(col):
        values = descriptors[col].astype(float)
        return ((values - values.mean()) / (values.std() + 1e-9)).fillna(0.0)

    def scale(x):
        return 100 / (1 + np.exp(-x))

    return pd.DataFrame({
        "expressiveness": scale((z("f0_range_st") + z("loudness_range_db")) / 2),
        "confidence": scale((z("loudness_mean_db") + z("voiced_ratio") - z("pause_ratio")) / 3),
    })


def select_speakers(rows: pd.DataFrame, spec: str | None, source) -> pd.DataFrame:
    """Return the rows of the speakers ``spec`` names: ``even`` or ``odd`` (the last digit of
    the speaker id), or a comma-separated list of ids; all rows when None.

    Raises CorpusError naming the source when ``even``/``odd`` meets an id that does not end in
    a digit, or when no row is left."""
    if not spec:
        return rows
    speakers = rows["speaker"].astype(str)
    if spec in ("even", "odd"):
        last = speakers.str[-1]
        if not last.str.isdigit().all():
            raise CorpusError(f"{source}: speakers {spec!r}: speaker ids must end in a digit "
                              f"(e.g. {speakers[~last.str.isdigit()].iloc[0]!r} does not)")
        keep = last.astype(int) % 2 == (0 if spec == "even" else 1)
    else:
        keep = speakers.isin([s.strip() for s in spec.split(",")])
    if not keep.any():
        raise CorpusError(f"{source}: no clip of the speakers {spec!r}")
    return rows[keep.to_numpy()].reset_index(drop=True)
