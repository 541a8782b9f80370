import pytest

from features.curriculum import CurriculumError, load_curriculum, parse_curriculum
from features.simulation.publish import DEMO_CURRICULUM


def test_demo_curriculum_has_four_ordered_phases_per_track():
    c = load_curriculum(DEMO_CURRICULUM)
    assert c.phases("english") == ["onboarding", "foundations", "conversation", "mastery"]
    assert c.languages() == {"english": "en", "german": "de"}
    assert c.lessons.num_rows == 3 * 4 * 3 * 3


@pytest.mark.parametrize("doc, key", [
    ({}, "courses"),
    ({"courses": {"x": {"language": "en", "phases": ["a"], "levels": {"A1": {"milestones": [
        {"id": "m", "phase": "zzz", "lessons": []}]}}}}}, "courses.x.levels.A1.milestones[0].phase"),
    ({"courses": {"x": {"language": "en", "phases": ["a"], "levels": {"A1": {"milestones": [
        {"id": "m", "phase": "a", "lessons": ["l"]}, {"id": "m", "phase": "a"}]}}}}},
     "courses.x.levels.A1.milestones[1].id"),
    ({"courses": {"x": {"phases": ["a"], "levels": {}}}}, "courses.x.language"),
])
def test_bad_curricula_name_the_key(doc, key):
    with pytest.raises(CurriculumError, match=key.replace("[", r"\[").replace("]", r"\]")):
        parse_curriculum(doc, "cur.yaml")
