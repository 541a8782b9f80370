"""A seeded model of a language-learning platform, for the demo, tests and benchmarks.

Learners have attributes (course, level, cohort, age band, gender, first language, UTC offset,
microphone noise) and latent traits: engagement that drifts week by week, fluency, and mood.
Engagement drives how often they practise, how many lessons they finish, how fast they answer,
how long and lively their spoken answers are, and their weekly dropout hazard. Every spoken
response gets a ``ClipSpec`` carrying the traits at that moment, from which ``features.simulation.speech``
renders a speech-like signal.

The telemetry is written by ``features.simulation.telemetry`` with planted problems. The
ground truth (traits per learner x phase, dropout day, every planted problem with the reason
the pipeline should give) is returned separately: the pipeline never reads it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd

from features.curriculum import Curriculum
from features.simulation.telemetry import write_telemetry

AGE_BANDS = ("13-17", "18-24", "25-34", "35-54", "55+")
AGE_WEIGHTS = (0.12, 0.3, 0.3, 0.2, 0.08)
UTC_OFFSETS = (-300, -240, -180, 0, 60, 120, 330, 480, 540)
FIRST_LANGUAGES = {"english": ("es", "pt", "zh", "ar", "de"), "german": ("en", "es", "tr", "pl")}
CLIP_CASES = ("silent", "clipped", "noisy", "truncated", "corrupt", "missing")


@dataclass(frozen=True)
class SimulationConfig:
    """Size and make-up of a simulated platform (the demo follows 20 weeks with sign-ups over 98
    days: ``features.simulation.demo``; the defaults are those the scores were validated on)."""

    learners: int = 500
    weeks: int = 12
    seed: int = 7
    start_date: date = date(2026, 8, 3)
    signup_spread_days: int = 21
    audio_base_uri: str = "gs://engage-demo/audio"
    audio_ext: str = "ogg"
    telemetry_files: int = 4
    array_file_index: int = 1  # which telemetry file is written as a JSON array (-1: none)
    malformed_share: float = 0.03
    no_session_id_share: float = 0.1
    epoch_ms_share: float = 0.05
    naive_time_share: float = 0.003
    no_audio_share: float = 0.015
    clip_case_shares: dict = field(default_factory=lambda: {
        "silent": 0.01, "clipped": 0.01, "noisy": 0.02, "truncated": 0.005,
        "corrupt": 0.005, "missing": 0.01})


@dataclass
class ClipSpec:
    """What one spoken response should sound like, and how it is broken (``case``)."""

    response_id: str
    user_id: str
    uri: str
    duration_s: float
    engagement: float
    fluency: float
    mood: float
    f0_hz: float
    snr_db: float
    seed: int
    case: str = "ok"


@dataclass
class SimulatedPlatform:
    """The simulator's output: telemetry files (name -> lines), clips, and ground truth."""

    telemetry: dict[str, list[str]]
    clips: list[ClipSpec]
    learners: pd.DataFrame
    learner_phase: pd.DataFrame
    bad_records: pd.DataFrame
    config: SimulationConfig
    events: list[dict] = field(default_factory=list)  # every event as simulated, before rendering


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Learner:
    """One learner's attributes, traits and event stream while simulating."""

    def __init__(self, index: int, cfg: SimulationConfig, curriculum: Curriculum):
        rng = np.random.default_rng([cfg.seed, index])
        self.rng = rng
        self.user_id = f"u{index + 1:05d}"
        self.course = "english" if rng.random() < 0.7 else "german"
        levels = sorted({r["level"] for r in curriculum.milestones.to_pylist() if r["course_id"] == self.course})
        self.level = levels[0] if len(levels) == 1 or rng.random() < 0.6 else levels[1]
        self.signup = datetime.combine(cfg.start_date, datetime.min.time(), timezone.utc) + timedelta(
            days=float(rng.uniform(0, cfg.signup_spread_days)))
        iso = self.signup.isocalendar()
        self.cohort = f"{iso.year}-W{iso.week:02d}"
        self.gender = "f" if rng.random() < 0.5 else "m"
        self.age_band = str(rng.choice(AGE_BANDS, p=AGE_WEIGHTS))
        self.first_language = str(rng.choice(FIRST_LANGUAGES[self.course]))
        self.offset = int(rng.choice(UTC_OFFSETS))
        self.habit_hour = float(rng.uniform(7, 21))
        self.snr_db = float(np.clip(rng.normal(24, 6), 6, 40))
        base_f0 = {"f": 210.0, "m": 120.0}[self.gender] * (1.25 if self.age_band == "13-17" else 1.0)
        self.f0_hz = float(base_f0 * math.exp(rng.normal(0, 0.1)))
        self.engagement_logit = float(rng.normal(0.7, 0.9))
        self.drift = float(rng.normal(-0.12, 0.15))
        self.fluency = float(rng.normal(0, 1))
        self.mood = float(rng.normal(0, 0.7))
        self.sends_session_id = rng.random() >= cfg.no_session_id_share
        self.epoch_ms_client = rng.random() < cfg.epoch_ms_share
        self.events: list[dict] = []
        self.dropout_at: datetime | None = None
        self.completed = False


def simulate(cfg: SimulationConfig, curriculum: Curriculum) -> SimulatedPlatform:
    """Simulate a platform; deterministic for a given config and curriculum."""
    tracks = _tracks(curriculum)
    clips: list[ClipSpec] = []
    learner_rows, phase_rows = [], []
    all_events: list[dict] = []
    for i in range(cfg.learners):
        learner = _Learner(i, cfg, curriculum)
        phase_traits = _live(learner, cfg, tracks, clips)
        all_events.extend(learner.events)
        learner_rows.append({
            "user_id": learner.user_id, "course_id": learner.course, "start_level": learner.level,
            "cohort": learner.cohort, "gender": learner.gender, "age_band": learner.age_band,
            "first_language": learner.first_language, "utc_offset_min": learner.offset,
            "snr_db": learner.snr_db, "f0_hz": learner.f0_hz, "fluency": learner.fluency,
            "signup_at": learner.signup, "dropout_at": learner.dropout_at,
            "dropped_out": learner.dropout_at is not None, "completed_course": learner.completed,
            "dropout_day": (learner.dropout_at - learner.signup).total_seconds() / 86400
            if learner.dropout_at else None,
        })
        for (course, phase), vals in phase_traits.items():
            phase_rows.append({"user_id": learner.user_id, "course_id": course, "phase": phase,
                               "engagement": float(np.mean(vals["engagement"])),
                               "mood": float(np.mean(vals["mood"])), "fluency": learner.fluency,
                               "responses": vals["responses"]})
    _assign_clip_cases(clips, cfg)
    telemetry, bad = write_telemetry(all_events, cfg)
    return SimulatedPlatform(
        telemetry=telemetry, clips=clips, learners=pd.DataFrame(learner_rows),
        learner_phase=pd.DataFrame(phase_rows), bad_records=pd.DataFrame(bad), config=cfg, events=all_events)


def _tracks(curriculum: Curriculum) -> dict[tuple[str, str], list[dict]]:
    """(course, level) -> ordered lessons with their milestone, phase index and position."""
    by_ms = {(r["course_id"], r["level"], r["milestone_id"]): r for r in curriculum.milestones.to_pylist()}
    tracks: dict[tuple[str, str], list[dict]] = {}
    for row in curriculum.lessons.to_pylist():
        ms = by_ms[(row["course_id"], row["level"], row["milestone_id"])]
        tracks.setdefault((row["course_id"], row["level"]), []).append({
            "lesson_id": row["lesson_id"], "milestone_id": row["milestone_id"],
            "phase": ms["phase"], "phase_index": ms["phase_index"], "ms_index": ms["milestone_index"]})
    for lessons in tracks.values():
        lessons.sort(key=lambda r: (r["ms_index"], r["lesson_id"]))
        for k, lesson in enumerate(lessons):
            lesson["first_of_phase"] = k == 0 or lessons[k - 1]["phase_index"] != lesson["phase_index"]
            lesson["last_of_milestone"] = k == len(lessons) - 1 or lessons[k + 1]["milestone_id"] != lesson["milestone_id"]
    return tracks


def _live(learner: _Learner, cfg: SimulationConfig, tracks, clips: list[ClipSpec]) -> dict:
    """Simulate one learner week by week; fills ``learner.events`` and ``clips``."""
    rng = learner.rng
    end = datetime.combine(cfg.start_date, datetime.min.time(), timezone.utc) + timedelta(weeks=cfg.weeks)
    track_key = (learner.course, learner.level)
    pointer = 0
    counter = 0
    traits: dict = {}
    logit, mood = learner.engagement_logit, learner.mood
    week_start = learner.signup

    def emit(event_type: str, ts: datetime, session_id: str | None, **fields) -> dict:
        nonlocal counter
        counter += 1
        event = {"event_id": f"{learner.user_id}-{counter:05d}", "event_type": event_type,
                 "user_id": learner.user_id, "timestamp": ts, "course_id": learner.course,
                 "_offset": learner.offset, "_epoch_ms": learner.epoch_ms_client}
        if session_id and learner.sends_session_id:
            event["session_id"] = session_id
        event.update({k: v for k, v in fields.items() if v is not None})
        learner.events.append(event)
        return event

    n_session = 0
    attempted: set[str] = set()
    while week_start < end and not learner.completed:
        engagement = _sigmoid(logit)
        hazard = 0.01 + 0.35 * (1 - engagement) ** 3
        drop_at = week_start + timedelta(days=float(rng.uniform(0, 7))) if rng.random() < hazard else None
        days = sorted(rng.uniform(0, 7, size=rng.poisson(0.4 + 4.0 * engagement)))
        for day in days:
            local_day = (week_start + timedelta(days=float(day))).date()
            hour = float(np.clip(rng.normal(learner.habit_hour, 1.5), 6, 23.5))
            start = datetime.combine(local_day, datetime.min.time(), timezone.utc) + timedelta(
                hours=hour, minutes=-learner.offset)
            if start < learner.signup or start >= end or (drop_at and start >= drop_at):
                continue
            n_session += 1
            sid = f"s-{learner.user_id}-{n_session:04d}"
            t = start
            emit("app_open", t, sid, level=learner.level, cohort=learner.cohort,
                 app_version="5.2.1", device={"os": "android" if rng.random() < 0.6 else "ios"})
            t += timedelta(seconds=2)
            emit("session_start", t, sid)
            for _ in range(1 + int(rng.random() < 0.6 * engagement)):
                lessons = tracks[track_key]
                if pointer >= len(lessons):
                    learner.completed = True
                    break
                lesson = lessons[pointer]
                t += timedelta(seconds=float(rng.uniform(3, 20)))
                emit("lesson_start", t, sid, lesson_id=lesson["lesson_id"])
                key = (learner.course, lesson["phase"])
                slot = traits.setdefault(key, {"engagement": [], "mood": [], "responses": 0})
                slot["engagement"].append(engagement)
                slot["mood"].append(mood)
                # Speaking prompts: three on a phase's first lesson, else now and then; a lesson
                # taken again skips the prompts already answered.
                first_try = lesson["lesson_id"] not in attempted
                attempted.add(lesson["lesson_id"])
                speaking = (3 if lesson["first_of_phase"] else int(rng.random() < 0.05)) if first_try else 0
                for k in range(1, speaking + 1):
                    prompt = f"{lesson['lesson_id']}-P{k}"
                    t += timedelta(seconds=float(rng.uniform(5, 25)))
                    emit("prompt_shown", t, sid, lesson_id=lesson["lesson_id"], prompt_id=prompt)
                    expected = float(rng.choice([1500, 2000, 2500, 3000, 3500]))
                    attempts = 2 if rng.random() < 0.25 * (1 - _sigmoid(learner.fluency)) + 0.05 else 1
                    for attempt in range(1, attempts + 1):
                        t += timedelta(seconds=float(rng.lognormal(math.log(3 + 9 * (1 - engagement)), 0.4)))
                        factor = 0.55 + 0.55 * engagement + 0.1 * math.tanh(learner.fluency)
                        duration = float(np.clip(expected / 1000 * factor * rng.lognormal(0, 0.12), 0.6, 8.0))
                        response = {
                            "prompt_id": prompt, "duration_ms": round(duration * 1000),
                            "expected_duration_ms": int(expected), "attempt": attempt,
                            "score": round(_sigmoid(1.1 * learner.fluency + 0.6 * (engagement - 0.5)
                                                    + rng.normal(0, 0.4)), 3),
                        }
                        event = emit("response_submitted", t, sid, lesson_id=lesson["lesson_id"],
                                     response=response)
                        slot["responses"] += 1
                        if rng.random() >= cfg.no_audio_share:
                            uri = f"{cfg.audio_base_uri}/{learner.user_id}/{event['event_id']}.{cfg.audio_ext}"
                            response["audio_uri"] = uri
                            clips.append(ClipSpec(
                                response_id=event["event_id"], user_id=learner.user_id, uri=uri,
                                duration_s=duration, engagement=engagement,
                                fluency=learner.fluency, mood=mood, f0_hz=learner.f0_hz,
                                snr_db=learner.snr_db, seed=int(rng.integers(2**31))))
                        t += timedelta(seconds=duration)
                if rng.random() < 0.5 + 0.45 * engagement:
                    t += timedelta(seconds=float(rng.uniform(5, 30)))
                    emit("lesson_complete", t, sid, lesson_id=lesson["lesson_id"])
                    if lesson["last_of_milestone"]:
                        emit("milestone_reached", t + timedelta(seconds=1), sid,
                             milestone_id=lesson["milestone_id"])
                    pointer += 1
                    next_lesson = lessons[pointer] if pointer < len(lessons) else None
                    if (next_lesson and learner.course == "english" and learner.level == "A1"
                            and next_lesson["phase_index"] == 2 and lesson["phase_index"] == 1
                            and rng.random() < 0.35):
                        learner.level = "A2"
                        track_key = (learner.course, learner.level)
                        emit("level_up", t + timedelta(seconds=2), sid, level="A2")
                        pointer = next(k for k, x in enumerate(tracks[track_key]) if x["phase_index"] == 2)
            t += timedelta(seconds=float(rng.uniform(5, 60)))
            emit("session_end", t, sid)
            if learner.completed:
                break
        if drop_at and drop_at < end:
            learner.dropout_at = drop_at
            break
        logit += learner.drift + rng.normal(0, 0.3)
        mood = 0.6 * mood + rng.normal(0, 0.5)
        week_start += timedelta(weeks=1)
    return traits


def _assign_clip_cases(clips: list[ClipSpec], cfg: SimulationConfig) -> None:
    rng = np.random.default_rng([cfg.seed, 991])
    draws = rng.random(len(clips))
    edges = np.cumsum([cfg.clip_case_shares.get(c, 0.0) for c in CLIP_CASES])
    for clip, u in zip(clips, draws):
        k = int(np.searchsorted(edges, u, side="right"))
        clip.case = CLIP_CASES[k] if k < len(CLIP_CASES) else "ok"


def truth_tables(platform: SimulatedPlatform) -> dict[str, pd.DataFrame]:
    """Return the ground-truth tables by name: learners, learner_phase, bad_records, clips."""
    return {
        "learners": platform.learners,
        "learner_phase": platform.learner_phase,
        "bad_records": platform.bad_records,
        "clips": pd.DataFrame([asdict(c) for c in platform.clips]),
    }
