"""Heads evaluated on real speech from ../shared/data, on speakers never seen in training."""

from __future__ import annotations

import re

import pytest

from flows.cli import main
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow


def needs(folder: str):
    path = SHARED_DATA / folder
    if not path.exists():
        pytest.skip(f"{path} is absent: real-data evaluation needs ../shared/data/{folder}")
    return path


def last_line_values(capsys) -> dict[str, float]:
    line = capsys.readouterr().out.strip().splitlines()[-1]
    return {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.]+)", line)}


def test_fluency_on_speechocean762_with_speaker_grouped_folds(capsys):
    folder = needs("speechocean762")
    assert main(["evaluate", "fluency", "--cv", str(folder)]) == 0
    values = last_line_values(capsys)
    assert values["n"] == 371 and values["stratified_n"] == 240
    assert values["r"] >= 0.78  # nested: each fold tuned on its own training speakers (0.798)
    assert values["r_ci95_low"] < values["r"] < values["r_ci95_high"]
    assert values["fold_r_min"] >= 0.6 and values["stratified_r"] >= 0.65


def test_emotion_on_emodb_leaving_each_speaker_out(capsys):
    folder = needs("emodb")
    assert main(["evaluate", "emotion", "--cv", str(folder / "manifest.csv")]) == 0
    values = last_line_values(capsys)
    assert values["n"] == 340
    assert values["uar"] >= 0.75
