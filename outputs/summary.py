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


def run_lines(manifest: dict) -> list[str]:
    """Return the lines ``engage run`` prints: accounting, risk and nudges, and where every
    table is."""
    c = manifest["counts"]
    risk = manifest["models"].get("risk_model") or {}
    lines = [f"engage run {manifest['run_date']} (as_of {manifest['as_of']}): stages {manifest['timings_s']} s",
             f"  input records {c['ingest']['input_records']} = events {c['ingest']['events']}"
             f" + duplicates {c['ingest']['duplicates']} + quarantined {c['ingest']['quarantined']}",
             f"  sessions {c['sessions']['sessions']}, responses {c['responses']['responses']}"
             f" (unmapped {c['responses']['unmapped']}), learner x phase rows {c['phase_activity']['rows']}",
             f"  dropout risk: model {risk.get('version')} ({risk.get('status')}"
             f"{': ' + risk['detail'] if risk.get('detail') else ''}), learners by status {risk.get('statuses')}"]
    if "nudges" in c:
        n = c["nudges"]
        lines.append(f"  nudges {n['nudges']} to {n['learners_nudged']} learners ({n['held_out_nudges']} held out"
                     f" from {n['learners_held_out']} learners; not sent: {n['not_sent_by_reason'] or 'none'})")
    lines += [f"  {name:18s} {folder}" for name, folder in manifest["tables"].items()]
    lines.append(f"  manifest           {manifest['manifest_path']}")
    if manifest["accounting_problems"]:
        lines.append(f"  ACCOUNTING PROBLEMS: {manifest['accounting_problems']}")
    return lines + (report_lines(manifest["report"]) if manifest.get("report") else [])


def report_lines(report: dict) -> list[str]:
    """Return where the insight report is and the run's top findings."""
    return [f"insight report: {report['report']}", "top findings:",
            *(f"  {i}. {s}" for i, s in enumerate(report["top_findings"], 1))]


def nudge_lines(user_id: str, nudges: list[dict]) -> list[str]:
    """Return the lines ``engage nudges`` prints for one learner: each nudge by priority with
    its reason, channel, send time and expiry."""
    if not nudges:
        return [f"{user_id}: no nudges in the latest run (none matched, all capped, held out or opted out)"]
    lines = [f"{user_id}: {len(nudges)} nudge(s)"]
    for n in sorted(nudges, key=lambda n: (n["priority"], n["course_id"])):
        lines += [f"  {n['priority']}. [{n['type']}/{n['channel']}] {n['title']}",
                  f"     {n['body']}",
                  f"     why: {n['reason']} (rule {n['source']}, expected benefit {n['expected_benefit']:.4f})",
                  f"     send after {n['send_after']}, expires {n['expires_at']}; {n['action']}"]
    return lines


def risk_training_line(result: dict) -> str:
    """Return the ``key=value`` line of a risk training: evaluation metrics, spread, promotion."""
    ev, report = result["report"]["evaluation"], result["report"]
    return (f"auc={ev['auc']:.4f} pr_auc={ev['pr_auc']:.4f} brier={ev['brier']:.4f} ece={ev['ece']:.4f} "
            f"mcc={ev['mcc']:.4f} auc_spread={report['auc_spread']:.4f} promoted={result['promoted']}"
            f"{'' if result['promoted'] else ' (saved, NOT promoted: below a quality gate)'}")


def findings_markdown(insights, run_date: str) -> str:
    """Return the findings of a run as Markdown: the top findings, then each section's."""
    lines = [f"# engage findings, run {run_date}", "", "## Top findings", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(insights["statement"].head(3), 1)]
    for section, part in insights.sort_values("rank").groupby("section", sort=False):
        lines += ["", f"## {section.replace('_', ' ')}", ""]
        lines += [f"- {'**' + r.statement + '**' if r.headline else r.statement}" for r in part.itertuples()]
    return "\n".join(lines) + "\n"
