"""Import the Open University Learning Analytics Dataset (OULAD) as a platform engage can run on.

A module is a course, a presentation (2013B, 2013J, 2014B, ...) its level and its cohort. Phases
are cut at consecutive TMA deadlines: phase ``p1`` runs to the first TMA's deadline, ``p2`` to the
second, ..., and a last phase after the last TMA. Each assessment is a lesson of the milestone of
the phase its deadline falls in. Events are placed on each presentation's calendar (day 0 = its
start: February 1 for B, October 1 for J, UTC; the data has days only): ``registration``; a
submission as ``lesson_complete`` (score 0-1 in ``response.score``, days late in
``lateness_days``); clicks, where the data has them, as ``vle_click`` (count in ``clicks``); and
``unregistration`` on the withdrawal day. Registration and unregistration are not learner
activity; unregistration is the outcome, also kept apart in ``outcomes.parquet``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import yaml

from features.errors import EngageError

LEARNER_EVENT_TYPES = ("lesson_complete", "vle_click")
# Hour of day each kind of event is placed at (the data has days only).
HOURS = {"registration": 9, "vle_click": 12, "lesson_complete": 18, "unregistration": 23}
TABLES = ("assessments.csv", "courses.csv", "studentAssessment.csv", "studentInfo.csv", "studentRegistration.csv")


class OuladError(EngageError):
    """A folder that does not hold OULAD's tables."""


@dataclass(frozen=True)
class OuladImport:
    """What an import wrote: the telemetry files, curriculum, run config and outcomes."""

    telemetry: list[Path]
    curriculum: Path
    config: Path
    outcomes: Path
    phase_ends: Path
    presentations: list[str]


def presentation_start(presentation: str) -> datetime:
    """Return day 0 of a presentation (``2013B`` -> 2013-02-01, ``2013J`` -> 2013-10-01, UTC)."""
    year, term = int(presentation[:4]), presentation[4:]
    month = {"B": 2, "J": 10}.get(term)
    if month is None:
        raise OuladError(f"presentation {presentation!r}: term {term!r} is not B or J")
    return datetime(year, month, 1, tzinfo=timezone.utc)


def read_oulad(folder: str | Path, presentations: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Return OULAD's tables (and the click sample when present), optionally only for some
    presentations. Raises ``OuladError`` naming a missing table or column."""
    folder = Path(folder)
    tables = {}
    for name in TABLES:
        path = folder / name
        if not path.is_file():
            raise OuladError(f"{folder}: no {name} (is this OULAD's folder?)")
        tables[name.removesuffix(".csv")] = pd.read_csv(path)
    clicks = sorted(folder.glob("studentVle*.csv"))
    tables["studentVle"] = pd.read_csv(clicks[0]) if clicks else pd.DataFrame(
        columns=["code_module", "code_presentation", "id_student", "id_site", "date", "sum_click"])
    for name, columns in (("assessments", ["code_module", "code_presentation", "id_assessment", "assessment_type", "date"]),
                          ("studentRegistration", ["code_module", "code_presentation", "id_student",
                                                   "date_registration", "date_unregistration"]),
                          ("studentAssessment", ["id_assessment", "id_student", "date_submitted", "score"]),
                          ("studentInfo", ["code_module", "code_presentation", "id_student", "final_result"])):
        missing = [c for c in columns if c not in tables[name]]
        if missing:
            raise OuladError(f"{folder / (name + '.csv')}: no column(s) {missing}")
    if presentations:
        for name in ("assessments", "studentRegistration", "studentInfo", "courses", "studentVle"):
            tables[name] = tables[name][tables[name]["code_presentation"].isin(presentations)]
        tables["studentAssessment"] = tables["studentAssessment"][
            tables["studentAssessment"]["id_assessment"].isin(tables["assessments"]["id_assessment"])]
    return tables


def phase_ends(assessments: pd.DataFrame) -> pd.DataFrame:
    """Return, per module x presentation, the day each phase ends: ``p<k>`` at the k-th TMA's
    deadline (the last phase ends with the module)."""
    tma = assessments[assessments["assessment_type"] == "TMA"].dropna(subset=["date"])
    rows = []
    for (module, pres), frame in tma.groupby(["code_module", "code_presentation"]):
        for k, day in enumerate(sorted(frame["date"].astype(int)), start=1):
            rows.append({"course_id": module, "level": pres, "phase": f"p{k}", "end_day": day})
    return pd.DataFrame(rows, columns=["course_id", "level", "phase", "end_day"])


def curriculum(assessments: pd.DataFrame) -> dict:
    """Return the generated curriculum document (see the module docstring)."""
    ends = phase_ends(assessments)
    doc = {"courses": {}}
    for module, by_module in assessments.groupby("code_module"):
        n_phases = int(ends[ends["course_id"] == module].groupby("level").size().max() or 0) + 1
        levels = {}
        for pres, frame in by_module.groupby("code_presentation"):
            deadlines = sorted(ends[(ends["course_id"] == module) & (ends["level"] == pres)]["end_day"])
            milestones = {f"p{k}": [] for k in range(1, n_phases + 1)}
            for row in frame.sort_values(["date", "id_assessment"]).itertuples():
                day = row.date if pd.notna(row.date) else float("inf")
                k = next((i for i, end in enumerate(deadlines, start=1) if day <= end), len(deadlines) + 1)
                milestones[f"p{min(k, n_phases)}"].append(f"A{row.id_assessment}")
            levels[pres] = {"milestones": [{"id": f"{module}-{pres}-{p}", "phase": p, "lessons": lessons}
                                           for p, lessons in milestones.items() if lessons]}
        doc["courses"][module] = {"language": "en", "phases": [f"p{k}" for k in range(1, n_phases + 1)],
                                  "levels": levels}
    return doc


def _event(kind: str, event_id: str, student, module: str, pres: str, day: float, **fields) -> dict:
    ts = presentation_start(pres) + timedelta(days=int(day), hours=HOURS[kind])
    return {"event_id": event_id, "event_type": kind, "user_id": str(student), "course_id": module, "level": pres,
            "cohort": pres, "timestamp": ts.isoformat(), **fields}


def events(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return every event as canonical records (column ``record``), with presentation and time."""
    rows = []
    reg = tables["studentRegistration"]
    for r in reg.itertuples():
        if pd.notna(r.date_registration):
            rows.append(_event("registration", f"reg-{r.code_module}-{r.code_presentation}-{r.id_student}",
                               r.id_student, r.code_module, r.code_presentation, r.date_registration))
        if pd.notna(r.date_unregistration):
            rows.append(_event("unregistration", f"unreg-{r.code_module}-{r.code_presentation}-{r.id_student}",
                               r.id_student, r.code_module, r.code_presentation, r.date_unregistration))
    info = tables["assessments"].set_index("id_assessment")
    for s in tables["studentAssessment"].itertuples():
        a = info.loc[s.id_assessment]
        late = None if pd.isna(a["date"]) else int(s.date_submitted - a["date"])
        rows.append(_event("lesson_complete", f"sub-{s.id_assessment}-{s.id_student}", s.id_student, a["code_module"],
                           a["code_presentation"], s.date_submitted, lesson_id=f"A{s.id_assessment}",
                           assessment_type=a["assessment_type"], lateness_days=late,
                           response={"score": None if pd.isna(s.score) else round(float(s.score) / 100, 4)}))
    clicks = tables["studentVle"].groupby(["code_module", "code_presentation", "id_student", "date"],
                                          as_index=False)["sum_click"].sum()
    for c in clicks.itertuples():
        rows.append(_event("vle_click", f"vle-{c.code_module}-{c.code_presentation}-{c.id_student}-{c.date}",
                           c.id_student, c.code_module, c.code_presentation, c.date, clicks=int(c.sum_click)))
    frame = pd.DataFrame({"record": rows})
    frame["presentation"] = [r["level"] for r in rows]
    frame["timestamp"] = [r["timestamp"] for r in rows]
    return frame.sort_values(["presentation", "timestamp"], kind="stable")


def outcomes(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Return per student x module x presentation: final result and withdrawal day (if any)."""
    reg = tables["studentRegistration"][["code_module", "code_presentation", "id_student", "date_registration",
                                         "date_unregistration"]]
    out = reg.merge(tables["studentInfo"][["code_module", "code_presentation", "id_student", "final_result"]],
                    on=["code_module", "code_presentation", "id_student"], how="left")
    return out.rename(columns={"code_module": "course_id", "code_presentation": "level", "id_student": "user_id"}) \
        .assign(user_id=lambda f: f["user_id"].astype(str))


def import_oulad(folder: str | Path, out: str | Path, presentations: list[str] | None = None) -> OuladImport:
    """Write OULAD as telemetry (one gzipped NDJSON file per presentation), the generated
    curriculum, a run config (audio off, learner activity = submissions and clicks), the
    outcomes and the phase end days into ``out``; return what was written."""
    out = Path(out)
    (out / "telemetry").mkdir(parents=True, exist_ok=True)
    tables = read_oulad(folder, presentations)
    written = []
    for pres, frame in events(tables).groupby("presentation"):
        path = out / "telemetry" / f"oulad-{pres}.ndjson.gz"
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in frame["record"]).encode(), mtime=0))
        written.append(path)
    (out / "curriculum.yaml").write_text(yaml.safe_dump(curriculum(tables["assessments"]), sort_keys=False))
    outcomes(tables).to_parquet(out / "outcomes.parquet", index=False)
    phase_ends(tables["assessments"]).to_parquet(out / "phase_ends.parquet", index=False)
    config = {"inputs": {"telemetry": ["telemetry/"], "curriculum": "curriculum.yaml"}, "output": {"root": "out"},
              "activity": {"learner_event_types": list(LEARNER_EVENT_TYPES)}, "audio": {"enabled": False}}
    (out / "engage.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return OuladImport(written, out / "curriculum.yaml", out / "engage.yaml", out / "outcomes.parquet",
                       out / "phase_ends.parquet", sorted(set(tables["studentRegistration"]["code_presentation"])))
