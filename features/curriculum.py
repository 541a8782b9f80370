"""Curriculum config: courses, their levels, milestones grouped into ordered phases, lessons.

YAML form::

    courses:
      english:
        language: en
        phases: [onboarding, foundations, conversation, mastery]
        levels:
          A1:
            milestones:
              - {id: en-A1-M01, phase: onboarding, lessons: [en-A1-L01, en-A1-L02]}
        prompts:                      # optional: the text a speaking prompt asks to read aloud
          en-A1-L01-P1: We call it a bear.

A milestone id is unique within its course and level; a lesson belongs to one milestone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from features.errors import EngageError


class CurriculumError(EngageError):
    """A curriculum file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Curriculum:
    """A validated curriculum, as flat lookup tables.

    ``milestones``: course_id, level, milestone_id, phase, phase_index, milestone_index.
    ``lessons``: course_id, level, lesson_id, milestone_id.
    ``courses``: course_id, language, phases (ordered list).
    ``prompts``: course_id, prompt_id, text (only the prompts the curriculum gives a text).
    """

    milestones: pa.Table
    lessons: pa.Table
    courses: pa.Table
    prompts: pa.Table
    source: str

    def phases(self, course_id: str) -> list[str]:
        """Return the ordered phases of a course; raises KeyError for an unknown course."""
        for row in self.courses.to_pylist():
            if row["course_id"] == course_id:
                return list(row["phases"])
        raise KeyError(course_id)

    def languages(self) -> dict[str, str]:
        """Return course_id -> spoken language code."""
        return {r["course_id"]: r["language"] for r in self.courses.to_pylist()}

    def final_milestones(self) -> pa.Table:
        """Return (course_id, level, milestone_id): each course level's last milestone."""
        from features.duck import query

        return query("SELECT course_id, level, arg_max(milestone_id, (phase_index, milestone_index)) AS milestone_id "
                     "FROM milestones GROUP BY ALL", milestones=self.milestones)

    def lessons_per_phase(self) -> pa.Table:
        """Return (course_id, level, phase, lessons): how many lessons each phase holds."""
        from features.duck import query

        return query("SELECT m.course_id, m.level, m.phase, count(*) AS lessons FROM lessons l "
                     "JOIN milestones m USING (course_id, level, milestone_id) GROUP BY ALL",
                     lessons=self.lessons, milestones=self.milestones)


def load_curriculum(path: str | Path) -> Curriculum:
    """Load and validate a curriculum YAML.

    Raises:
        CurriculumError: unreadable YAML, a missing or mistyped key, a phase not listed in its
            course, or a duplicate milestone or lesson id; the message names file and key.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CurriculumError(f"{path}: cannot read curriculum: {exc}") from exc
    return parse_curriculum(doc, str(path))


def parse_curriculum(doc: object, source: str = "<curriculum>") -> Curriculum:
    """Validate a parsed curriculum document; see ``load_curriculum`` for what raises."""

    def fail(key: str, problem: str) -> CurriculumError:
        return CurriculumError(f"{source}: {key}: {problem}")

    if not isinstance(doc, dict) or not isinstance(doc.get("courses"), dict) or not doc["courses"]:
        raise fail("courses", "expected a mapping of course id -> course")
    ms_rows, lesson_rows, course_rows, prompt_rows = [], [], [], []
    for course_id, course in doc["courses"].items():
        key = f"courses.{course_id}"
        if not isinstance(course, dict):
            raise fail(key, "expected a mapping")
        phases = course.get("phases")
        if not isinstance(phases, list) or not phases or not all(isinstance(p, str) for p in phases):
            raise fail(f"{key}.phases", f"expected a non-empty list of phase names, got {phases!r}")
        language = course.get("language")
        if not isinstance(language, str) or not language:
            raise fail(f"{key}.language", f"expected a language code such as 'en', got {language!r}")
        course_rows.append({"course_id": str(course_id), "language": language, "phases": phases})
        prompts = course.get("prompts") or {}
        if not isinstance(prompts, dict):
            raise fail(f"{key}.prompts", "expected a mapping of prompt id -> text read aloud")
        for prompt_id, text in prompts.items():
            if not isinstance(text, str) or not text.strip():
                raise fail(f"{key}.prompts.{prompt_id}", f"expected the prompt's text, got {text!r}")
            prompt_rows.append({"course_id": str(course_id), "prompt_id": str(prompt_id), "text": text})
        levels = course.get("levels")
        if not isinstance(levels, dict) or not levels:
            raise fail(f"{key}.levels", "expected a mapping of level -> {milestones: [...]}")
        for level, spec in levels.items():
            lkey = f"{key}.levels.{level}.milestones"
            milestones = (spec or {}).get("milestones") if isinstance(spec, dict) else None
            if not isinstance(milestones, list) or not milestones:
                raise fail(lkey, "expected a non-empty list")
            seen_ms, seen_lessons = set(), set()
            for i, ms in enumerate(milestones):
                mkey = f"{lkey}[{i}]"
                if not isinstance(ms, dict) or not isinstance(ms.get("id"), str):
                    raise fail(mkey, "expected {id, phase, lessons}")
                if ms["id"] in seen_ms:
                    raise fail(f"{mkey}.id", f"duplicate milestone id {ms['id']!r}")
                seen_ms.add(ms["id"])
                if ms.get("phase") not in phases:
                    raise fail(f"{mkey}.phase", f"{ms.get('phase')!r} is not one of {phases}")
                lessons = ms.get("lessons", [])
                if not isinstance(lessons, list) or not all(isinstance(x, str) for x in lessons):
                    raise fail(f"{mkey}.lessons", "expected a list of lesson ids")
                ms_rows.append({
                    "course_id": str(course_id), "level": str(level), "milestone_id": ms["id"],
                    "phase": ms["phase"], "phase_index": phases.index(ms["phase"]),
                    "milestone_index": i,
                })
                for lesson in lessons:
                    if lesson in seen_lessons:
                        raise fail(f"{mkey}.lessons", f"lesson {lesson!r} is in two milestones")
                    seen_lessons.add(lesson)
                    lesson_rows.append({"course_id": str(course_id), "level": str(level),
                                        "lesson_id": lesson, "milestone_id": ms["id"]})
    return Curriculum(
        milestones=pa.Table.from_pylist(ms_rows, schema=pa.schema([
            ("course_id", pa.string()), ("level", pa.string()), ("milestone_id", pa.string()),
            ("phase", pa.string()), ("phase_index", pa.int16()), ("milestone_index", pa.int16())])),
        lessons=pa.Table.from_pylist(lesson_rows, schema=pa.schema([
            ("course_id", pa.string()), ("level", pa.string()), ("lesson_id", pa.string()),
            ("milestone_id", pa.string())])),
        courses=pa.Table.from_pylist(course_rows, schema=pa.schema([
            ("course_id", pa.string()), ("language", pa.string()),
            ("phases", pa.list_(pa.string()))])),
        prompts=pa.Table.from_pylist(prompt_rows, schema=pa.schema([
            ("course_id", pa.string()), ("prompt_id", pa.string()), ("text", pa.string())])),
        source=source,
    )
