"""The run summary people read in Prefect (a keyed Markdown artifact's body)."""

from __future__ import annotations


def summary_markdown(manifest: dict) -> str:
    """Return a short Markdown summary of a run from its manifest."""
    c = manifest["counts"]
    ing, sel, resp, ses = c["ingest"], c["select"], c["responses"], c["sessions"]
    reasons = "\n".join(f"| {r} | {n} |" for r, n in ing["quarantined_by_reason"].items()) or "| - | 0 |"
    return f"""# engage run {manifest['run_date']}

as_of **{manifest['as_of']}** · {len(manifest['inputs'])} input file(s) · accounting {'holds' if not manifest['accounting_problems'] else 'BROKEN'}

| stage | count |
| --- | --- |
| input records | {ing['input_records']} |
| events kept | {ing['events']} |
| duplicates dropped | {ing['duplicates']} |
| quarantined | {ing['quarantined']} |
| selected events | {sel['selected']} (filtered out {sel['filtered_out']}) |
| sessions | {ses['sessions']} ({ses['from_inactivity_gap']} cut by inactivity gap) |
| responses | {resp['responses']} ({resp['unmapped']} unmapped) |
| learner x phase rows | {c['phase_activity']['rows']} |

| quarantine reason | records |
| --- | --- |
{reasons}
"""
