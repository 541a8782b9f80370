"""OULAD as a platform: the import keeps every record, and the score meets real withdrawals."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter

import pandas as pd
import pytest
import yaml

from features.oulad import import_oulad
from flows.cli import main
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oulad():
    path = SHARED_DATA / "oulad"
    if not path.exists():
        pytest.skip(f"{path} is absent: the OULAD checks need ../shared/data/oulad")
    return path


def test_every_registration_withdrawal_and_submission_becomes_one_event(oulad, tmp_path):
    done = import_oulad(oulad, tmp_path)
    kinds = Counter(json.loads(line)["event_type"] for f in done.telemetry for line in gzip.open(f, "rt"))
    reg = pd.read_csv(oulad / "studentRegistration.csv")
    assert kinds["registration"] == reg["date_registration"].notna().sum()
    assert kinds["unregistration"] == reg["date_unregistration"].notna().sum()
    assert kinds["lesson_complete"] == len(pd.read_csv(oulad / "studentAssessment.csv"))
    curriculum = yaml.safe_load(done.curriculum.read_text())
    tma = pd.read_csv(oulad / "assessments.csv").query("assessment_type == 'TMA'")
    most = tma.groupby(["code_module", "code_presentation"]).size().groupby("code_module").max()
    assert {c: len(v["phases"]) for c, v in curriculum["courses"].items()} == (most + 1).to_dict()


def test_engagement_score_ranks_who_stays_on_a_later_presentation(oulad, capsys):
    assert main(["evaluate", "engagement", "--oulad", str(oulad)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    aucs = {int(k): float(v) for k, v in re.findall(r"auc_phase(\d+)=([\d.]+)", last)}
    assert set(aucs) >= {1, 2, 3}
    # Measured 0.696 (95% CI 0.663-0.726) at phase 2 on 2014B: well above chance, below the 0.75 goal.
    assert all(a > 0.62 for a in aucs.values()), aucs


def test_risk_sees_real_withdrawals_coming_on_a_later_presentation(oulad, capsys):
    assert main(["evaluate", "risk", "--train", str(oulad), "--test", str(oulad), "--train-presentations",
                 "2013B,2013J", "--test-presentations", "2014B", "--boot", "50"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    aucs = {int(k): float(v) for k, v in re.findall(r"auc_day(\d+)=([\d.]+)", out[-1])}
    assert set(aucs) == {30, 60, 120}
    report = json.loads("\n".join(out[:-1]))
    assert report["outcomes"]["within"]["60"]["auc"]["value"] > 0.65 and "baseline_logistic_auc" in report["outcomes"]["later"]["60"]
    # Measured 0.644 / 0.658 / 0.722 (without click data): above chance, below the 0.80 goal at day 60.
    assert all(a > 0.6 for a in aucs.values()), aucs


def test_risk_evaluation_refuses_a_presentation_on_both_sides(oulad, capsys):
    assert main(["evaluate", "risk", "--train", str(oulad), "--test", str(oulad)]) == 2
    assert "share presentation" in capsys.readouterr().err
    assert main(["evaluate", "risk", "--train", str(oulad)]) == 2
