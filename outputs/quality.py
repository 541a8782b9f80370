"""Quality gates: when a run's input is too broken for its tables to count as a success."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Le

from features.errors import EngageError

Share = Annotated[float, Ge(0), Le(1)]


class QualityGateError(EngageError):
    """Too many records were quarantined or left unmapped for the run to count as a success."""


@dataclass(frozen=True)
class QualityGates:
    """The ``quality`` config section: the largest shares of quarantined input records and of
    responses that map to no milestone a successful run may have, and whether a source that
    cannot be read fails the run (``fail``: silently missing data is worse) or is only listed."""

    max_quarantine_share: Share = 0.05
    max_unmapped_share: Share = 0.05
    on_unreadable_source: Literal["fail", "skip"] = "fail"


def gate_breaches(counts: dict, gates: QualityGates) -> list[str]:
    """Return a message per gate ``counts`` breach (empty when none)."""
    out = []
    ing, resp = counts["ingest"], counts.get("responses", {"responses": 0})
    unreadable = ing.get("unreadable_sources", [])
    if unreadable and gates.on_unreadable_source == "fail":
        out.append(f"{len(unreadable)} source(s) could not be read: "
                   + "; ".join(u["unreadable"] for u in unreadable[:3]))
    if ing["input_records"]:
        share = ing["quarantined"] / ing["input_records"]
        if share > gates.max_quarantine_share:
            top = ", ".join(f"{r}={n}" for r, n in sorted(
                ing["quarantined_by_reason"].items(), key=lambda kv: -kv[1])[:3])
            out.append(f"{share:.1%} of input records were quarantined (limit "
                       f"{gates.max_quarantine_share:.1%}; top reasons: {top}); is the field map right?")
    if resp["responses"]:
        share = resp["unmapped"] / resp["responses"]
        if share > gates.max_unmapped_share:
            out.append(f"{share:.1%} of responses map to no milestone (limit "
                       f"{gates.max_unmapped_share:.1%}); is the curriculum the platform's?")
    return out
