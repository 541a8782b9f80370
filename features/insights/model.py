"""What the findings are computed from and what they are made of: a run's tables, findings
(a sentence with its number), charts (aggregates only, never one point per learner) and report
sections."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

INSIGHT_COLUMNS = ("insight_id", "section", "rank", "headline", "scope", "statement", "number", "unit")
QUIET_DAYS = 14  # a learner with no activity for this long before as_of has gone quiet


@dataclass
class RunTables:
    """One run date's published tables (only the columns findings use) and run facts.

    ``counts`` is the manifest's ``counts``; ``models`` its ``models``; ``risk_model`` the
    registry metadata of the risk model the run used (None when none was)."""

    run_date: str
    as_of: str
    phase_scores: pd.DataFrame
    learners: pd.DataFrame
    groups: pd.DataFrame
    phase_activity: pd.DataFrame
    counts: dict
    models: dict
    audio_status: dict[str, int] = field(default_factory=dict)
    emotion_status: dict[str, int] = field(default_factory=dict)
    alignment_status: dict[str, int] = field(default_factory=dict)
    nudges: pd.DataFrame | None = None
    nudge_assignments: pd.DataFrame | None = None
    nudge_effects: pd.DataFrame | None = None
    attributes: pd.DataFrame | None = None
    risk_model: dict | None = None


@dataclass(frozen=True)
class Finding:
    """A finding: a sentence computed from the data, with its number and unit."""

    insight_id: str
    statement: str
    number: float
    unit: str
    scope: str = "all learners"


@dataclass(frozen=True)
class Chart:
    """A plot of aggregates: ``data`` indexed by the x values, one column per series.

    kind: ``bar`` (grouped bars), ``barh``, ``line``, ``calibration`` (predicted vs observed,
    with the diagonal), or ``interval`` (points with ``low``/``high`` columns as error bars)."""

    key: str
    title: str
    kind: str
    data: pd.DataFrame
    xlabel: str = ""
    ylabel: str = ""


@dataclass
class Section:
    """A report section: its findings (the first is the headline), charts, tables and a note."""

    key: str
    title: str
    findings: list[Finding]
    charts: list[Chart] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    note: str | None = None

    @property
    def headline(self) -> Finding:
        """The finding the section opens with."""
        return self.findings[0]


def insights_frame(sections: list[Section], ranks: dict[str, int]) -> pd.DataFrame:
    """Return the ``insights`` table: every finding with its section and whether it is the
    section's headline; ``rank`` orders headlines by ``ranks`` (section -> rank, the top
    findings first), the other findings after them."""
    rows = []
    for section in sections:
        for i, f in enumerate(section.findings):
            rows.append({"insight_id": f.insight_id, "section": section.key, "headline": i == 0, "scope": f.scope,
                         "statement": f.statement, "number": float(f.number), "unit": f.unit,
                         "_order": (0 if i == 0 else 1, ranks.get(section.key, 99), i)})
    frame = pd.DataFrame(rows).sort_values("_order", kind="stable").reset_index(drop=True)
    frame["rank"] = range(1, len(frame) + 1)
    return frame[list(INSIGHT_COLUMNS)]


def share(part: float, whole: float) -> float:
    """Return ``part / whole`` as a percentage rounded to 0.1 (0 when ``whole`` is 0)."""
    return round(100.0 * part / whole, 1) if whole else 0.0
