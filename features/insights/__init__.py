"""Findings computed from a run's tables, grouped in the report's sections (the ``insights``
table, the HTML report and the Prefect artifacts all show them)."""

from __future__ import annotations

from features.fairness import FairnessOptions
from features.insights.engagement import engagement_section, groups_section
from features.insights.fairness import fairness_section
from features.insights.model import RunTables, Section, insights_frame
from features.insights.nudges import nudges_section
from features.insights.quality import quality_section
from features.insights.risk import risk_section
from features.insights.voice import voice_section

# Headlines in this order lead the insights table; the first three are a run's top findings.
HEADLINE_RANKS = {"engagement": 1, "risk": 2, "nudges": 3, "fairness": 4, "groups": 5, "voice": 6,
                  "data_quality": 7}


def build_sections(tables: RunTables, fairness: FairnessOptions = FairnessOptions()) -> list[Section]:
    """Return the report's sections in reading order."""
    return [engagement_section(tables), voice_section(tables), groups_section(tables), risk_section(tables),
            nudges_section(tables), fairness_section(tables, fairness), quality_section(tables)]


def insights(sections: list[Section]):
    """Return the ``insights`` table of ``sections`` (see ``insights_frame``)."""
    return insights_frame(sections, HEADLINE_RANKS)
