"""Forced alignment of a known prompt text: how fluently and how well the words were said.

``align_clip(signal, text)`` aligns the prompt's words and phones to a 16 kHz clip with
pocketsphinx's English acoustic model and dictionary (both ship inside its wheel), decodes the
same clip with a free phone loop, and returns timing and goodness-of-pronunciation features:

- ``words_per_speech_s``, ``phones_per_speech_s``: the prompt's words and phones per second of
  aligned speech (first word's start to last word's end, silences between words left out);
- ``phone_duration_cv``: the spread of phone durations (sd / mean);
- ``word_gap_count``, ``word_gap_total_s``, ``word_gap_longest_s``: silences between words of at
  least ``audio.spectrum.MIN_PAUSE_S``;
- ``gop_mean``, ``gop_p10``: per phone, the forced alignment's acoustic log-likelihood minus the
  free phone loop's over the same frames, per frame (0 = as good as the best phones; lower =
  further from the expected pronunciation), frame-weighted mean and 10th percentile.

Every feature's unit is in docs/audio.md. Library code: no prefect here.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from audio.decode import SAMPLE_RATE
from audio.spectrum import MIN_PAUSE_S
from features.statuses import AlignmentStatus

ALIGNMENT_VERSION = "align-1"
FRAME_S = 0.01  # pocketsphinx frames are 10 ms apart
LOG_BASE = math.log(1.0001)  # pocketsphinx's log base: segment scores come back as 1.0001 ** score
SILENCES = {"<sil>", "<s>", "</s>", "[NOISE]", "SIL", "+SPN+", "+NSN+"}
ALIGNMENT_FEATURES = ("words_per_speech_s", "phones_per_speech_s", "phone_duration_cv", "word_gap_count",
                      "word_gap_total_s", "word_gap_longest_s", "gop_mean", "gop_p10")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def prompt_words(text: str | None) -> list[str]:
    """Return the prompt's words as the dictionary spells them: lower case, letters and inner
    apostrophes; digits and punctuation are dropped."""
    return _WORD.findall((text or "").lower())


@lru_cache(maxsize=1)
def _decoder():
    """One decoder per process (a decoder is not thread-safe; callers use processes), with the
    free phone loop added as a second search."""
    import pocketsphinx
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=SAMPLE_RATE, bestpath=False, loglevel="FATAL")
    model = Path(pocketsphinx.__file__).parent / "model" / "en-us"
    decoder.add_allphone_file("phone_loop", str(model / "en-us-phone.lm.bin"))
    return decoder


def align_clip(signal: np.ndarray, text: str | None) -> dict:
    """Return ``alignment_status`` (an ``AlignmentStatus``), ``alignment_detail`` and the
    ``ALIGNMENT_FEATURES`` (NaN unless the status is ``ok``) of one float 16 kHz clip read
    aloud from ``text``. A text with no word is ``no_text``; a word the dictionary lacks, or
    audio the decoder cannot align to the words, is ``not_aligned`` with the reason."""
    out = {"alignment_status": AlignmentStatus.OK.value, "alignment_detail": None,
           **dict.fromkeys(ALIGNMENT_FEATURES, math.nan)}
    words = prompt_words(text)
    if not words:
        return {**out, "alignment_status": AlignmentStatus.NO_TEXT.value}
    decoder = _decoder()
    unknown = [w for w in dict.fromkeys(words) if decoder.lookup_word(w) is None]
    if unknown:
        return {**out, "alignment_status": AlignmentStatus.NOT_ALIGNED.value,
                "alignment_detail": f"not in the pronunciation dictionary: {', '.join(unknown[:5])}"}
    pcm = (np.clip(signal, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    try:
        phones = _forced_phones(decoder, pcm, " ".join(words))
        loop = _phone_loop(decoder, pcm)
    except RuntimeError as exc:  # pocketsphinx reports a failed search this way
        return {**out, "alignment_status": AlignmentStatus.NOT_ALIGNED.value, "alignment_detail": str(exc)}
    if not phones:
        return {**out, "alignment_status": AlignmentStatus.NOT_ALIGNED.value,
                "alignment_detail": "no alignment of the words to the audio"}
    return {**out, **_features(phones, loop, len(words))}


def _forced_phones(decoder, pcm: bytes, text: str) -> list[tuple[str, int, int, int, int]]:
    """Return (phone, start frame, frames, acoustic score, word index) per aligned phone; word
    index -1 for silences."""
    def decode():
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()

    decoder.set_align_text(text)
    decode()  # finds the words
    decoder.set_alignment()
    decode()  # then their phones and states
    alignment = decoder.get_alignment()
    if alignment is None:
        return []
    phones, word_index = [], 0
    for word in alignment:
        silent = word.name in SILENCES
        for phone in word:
            phones.append((phone.name, phone.start, phone.duration, phone.score, -1 if silent else word_index))
        word_index += not silent
    return phones


def _phone_loop(decoder, pcm: bytes) -> np.ndarray:
    """Return the free phone loop's acoustic score per frame (each segment's spread evenly)."""
    decoder.activate_search("phone_loop")
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    segments = [(s.start_frame, s.end_frame, math.log(max(s.ascore, 1e-300)) / LOG_BASE) for s in decoder.seg()]
    frames = np.zeros(max((end for _, end, _ in segments), default=-1) + 1)
    for start, end, score in segments:
        frames[start:end + 1] = score / (end - start + 1)
    return frames


def _features(phones: list[tuple[str, int, int, int, int]], loop: np.ndarray, n_words: int) -> dict:
    spoken = [p for p in phones if p[4] >= 0 and p[2] > 0]
    if not spoken:
        return {"alignment_status": AlignmentStatus.NOT_ALIGNED.value, "alignment_detail": "no phone aligned"}
    first, last = spoken[0][1], spoken[-1][1] + spoken[-1][2]
    durations = np.array([p[2] for p in spoken], dtype=float)
    speech_s = durations.sum() * FRAME_S
    # Silences between the first and the last word (words may also abut with no silence).
    gaps = [p[2] * FRAME_S for p in phones if p[4] < 0 and first <= p[1] < last and p[2] * FRAME_S >= MIN_PAUSE_S]
    padded = np.pad(loop, (0, max(0, last - len(loop))))
    gop = np.array([(score - padded[start:start + n].sum()) / n for _, start, n, score, _ in spoken])
    return {"words_per_speech_s": n_words / speech_s, "phones_per_speech_s": len(spoken) / speech_s,
            "phone_duration_cv": float(durations.std() / durations.mean()),
            "word_gap_count": float(len(gaps)), "word_gap_total_s": float(sum(gaps)),
            "word_gap_longest_s": float(max(gaps, default=0.0)),
            "gop_mean": float(np.average(gop, weights=durations)), "gop_p10": float(np.percentile(gop, 10))}


def align_file(path: str, text: str | None) -> dict:
    """Return ``align_clip`` of one audio file; raises ``audio.decode.DecodeError``."""
    from audio.decode import decode_audio

    return align_clip(decode_audio(path)[0], text)


def align_files(paths: list[str], texts: list[str | None], workers: int | None = None) -> list[dict]:
    """Return ``align_clip`` of each file with its text, in order, over worker processes."""
    from features.parallel import process_map

    return process_map(align_file, paths, texts, workers=workers, chunksize=4)
