import pytest

from features.curriculum import CurriculumError, load_curriculum, parse_curriculum
from features.simulation.publish import DEMO_CURRICULUM


def test_demo_curriculum_has_four_ordered_phases_per_track():
    c = load_curriculum(DEMO_CURRICULUM)
    assert c.phases("english") == ["onboarding", "foundations", "conversation", "mastery"]
    assert c.languages() == {"english": "en", "german": "de"}
    assert c.lessons.num_rows == 3 * 4 * 3 * 3


COURSE = {"language": "en", "phases": ["a"], "levels": {"A1": {"milestones": [{"id": "m", "phase": "a"}]}}}


def test_prompt_texts_are_optional_and_kept_per_course():
    assert load_curriculum(DEMO_CURRICULUM).prompts.num_rows == 0
    c = parse_curriculum({"courses": {"x": {**COURSE, "prompts": {"p1": "We call it a bear.", "p2": "Zero three"}},
                                      "y": COURSE}})
    assert c.prompts.to_pylist() == [{"course_id": "x", "prompt_id": "p1", "text": "We call it a bear."},
                                     {"course_id": "x", "prompt_id": "p2", "text": "Zero three"}]


@pytest.mark.parametrize("doc, key", [
    ({}, "courses"),
    ({"courses": {"x": {"language": "en", "phases": ["a"], "levels": {"A1": {"milestones": [
        {"id": "m", "phase": "zzz", "lessons": []}]}}}}}, "courses.x.levels.A1.milestones[0].phase"),
    ({"courses": {"x": {"language": "en", "phases": ["a"], "levels": {"A1": {"milestones": [
        {"id": "m", "phase": "a", "lessons": ["l"]}, {"id": "m", "phase": "a"}]}}}}},
     "courses.x.levels.A1.milestones[1].id"),
    ({"courses": {"x": {"phases": ["a"], "levels": {}}}}, "courses.x.language"),
    ({"courses": {"x": {**COURSE, "prompts": ["p1"]}}}, "courses.x.prompts"),
    ({"courses": {"x": {**COURSE, "prompts": {"p1": "", "p2": "ok"}}}}, "courses.x.prompts.p1"),
    ({"courses": {"x": {**COURSE, "prompts": {"p1": 42}}}}, "courses.x.prompts.p1"),
])
def test_bad_curricula_name_the_key(doc, key):
    with pytest.raises(CurriculumError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_curriculum(doc, "cur.yaml")
