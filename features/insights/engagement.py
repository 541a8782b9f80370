"""Sections on engagement: the phase funnel and where learners drop off, engagement per phase,
course and cohort; and the learner groups with their profiles."""

from __future__ import annotations

import pandas as pd

from features.insights.model import QUIET_DAYS, Chart, Finding, RunTables, Section, share
from features.scoring.components import COMPONENT_NAMES

MIN_REACHED = 10  # a phase fewer learners reached says nothing about drop-off
MAX_COHORTS = 26  # the latest cohorts shown


def phase_order(phase_scores: pd.DataFrame) -> pd.DataFrame:
    """Return course, phase, phase_index for every phase seen, in curriculum order."""
    return (phase_scores[["course_id", "phase", "phase_index"]].drop_duplicates()
            .sort_values(["course_id", "phase_index"]).reset_index(drop=True))


def funnel(t: RunTables) -> pd.DataFrame:
    """Return per course x phase: learners who reached it, and those who stopped there (their
    current phase, quiet for ``QUIET_DAYS``+ days); the last phase of a course is marked, since
    learners who finished it stop there too."""
    phases = phase_order(t.phase_scores)
    learners = t.learners[["course_id", "current_phase_index", "days_since_last_activity"]]
    rows = []
    for course, order in phases.groupby("course_id", sort=True):
        mine = learners[learners["course_id"] == course]
        last = order["phase_index"].max()
        for phase, index in zip(order["phase"], order["phase_index"]):
            reached = int((mine["current_phase_index"] >= index).sum())
            stopped = int(((mine["current_phase_index"] == index)
                           & (mine["days_since_last_activity"] >= QUIET_DAYS)).sum())
            rows.append({"course_id": course, "phase": phase, "phase_index": int(index), "reached": reached,
                         "stopped_here": stopped, "last_phase": bool(index == last)})
    return pd.DataFrame(rows, columns=["course_id", "phase", "phase_index", "reached", "stopped_here", "last_phase"])


def _largest_drop_in_score(t: RunTables) -> list[Finding]:
    found = []
    for course, order in phase_order(t.phase_scores).groupby("course_id", sort=True):
        medians = t.phase_scores[t.phase_scores["course_id"] == course].groupby("phase")["engagement_score"].median()
        names = list(order["phase"])
        steps = [(a, b, medians[b] - medians[a]) for a, b in zip(names, names[1:])
                 if pd.notna(medians.get(a)) and pd.notna(medians.get(b))]
        if steps:
            a, b, drop = min(steps, key=lambda s: s[2])
            found.append(Finding(f"largest_score_drop:{course}",
                                 f"In {course}, engagement falls most from {a} to {b}: the median score goes from "
                                 f"{medians[a]:.0f} to {medians[b]:.0f} ({drop:+.0f} points).",
                                 round(float(drop), 1), "points", f"course {course}"))
    return found


def _quiet_learners_first_drop(t: RunTables) -> list[Finding]:
    quiet = t.learners[t.learners["days_since_last_activity"] >= QUIET_DAYS][["user_id", "course_id"]]
    last_two = (t.phase_scores.merge(quiet, on=["user_id", "course_id"]).sort_values("phase_index")
                .groupby(["user_id", "course_id"]).tail(2))
    counts = last_two.groupby(["user_id", "course_id"])["phase_index"].transform("size")
    last_two = last_two[counts == 2]
    if not len(last_two):
        return []
    first = last_two.groupby(["user_id", "course_id"])[list(COMPONENT_NAMES)].first()
    last = last_two.groupby(["user_id", "course_id"])[list(COMPONENT_NAMES)].last()
    means = (last - first).mean().dropna()
    if not len(means):
        return []
    component = means.idxmin()
    return [Finding("quiet_learners_first_drop",
                    f"Among the {len(quiet)} learners who went quiet, {component.replace('_', ' ')} fell most from "
                    f"their previous phase to their last ({means[component]:+.0f} points on average).",
                    round(float(means[component]), 1), "points", f"{len(quiet)} learners quiet for {QUIET_DAYS}+ days")]


def engagement_section(t: RunTables) -> Section:
    """The funnel, where learners drop off, and engagement per phase, course and cohort."""
    steps = funnel(t)
    steps["stopped_share"] = [share(s, r) for s, r in zip(steps["stopped_here"], steps["reached"])]
    candidates = steps[~steps["last_phase"] & (steps["reached"] >= MIN_REACHED)]
    if len(candidates):
        worst = candidates.sort_values(["stopped_share", "reached"], ascending=[False, False]).iloc[0]
        headline = Finding(
            "largest_dropoff",
            f"In {worst['course_id']}, {worst['stopped_share']:.0f}% of the {worst['reached']} learners who reached "
            f"{worst['phase']} stopped there (no activity for {QUIET_DAYS}+ days): the largest drop-off of any phase.",
            float(worst["stopped_share"]), "%", f"course {worst['course_id']}")
    else:
        headline = Finding("largest_dropoff", f"{len(t.learners)} learners are in the run; no phase before a course's "
                           f"last was reached by {MIN_REACHED}+ learners, so no drop-off is measured.",
                           float(len(t.learners)), "learners")
    labels = [f"{c}: {p}" for c, p in zip(steps["course_id"], steps["phase"])]
    charts = [Chart("funnel", "Learners who reached each phase, and who stopped there", "bar",
                    pd.DataFrame({"reached": steps["reached"].to_numpy(), "stopped there": steps["stopped_here"].to_numpy()},
                                 index=labels), ylabel="learners")]
    medians = (t.phase_scores.groupby(["phase_index", "course_id"])["engagement_score"].median().unstack("course_id"))
    charts.append(Chart("score_by_phase", "Median engagement score by phase", "line", medians,
                        xlabel="phase (curriculum order)", ylabel="score 0-100"))
    cohorts = t.phase_scores.groupby("cohort")["engagement_score"].mean().sort_index().tail(MAX_COHORTS)
    charts.append(Chart("score_by_cohort", "Mean engagement score by sign-up cohort", "bar",
                        cohorts.to_frame("mean score"), ylabel="score 0-100"))
    table = steps[["course_id", "phase", "reached", "stopped_here", "stopped_share"]].rename(
        columns={"stopped_share": "stopped_here_%"})
    return Section("engagement", "Funnel and engagement", [headline, *_largest_drop_in_score(t),
                                                             *_quiet_learners_first_drop(t)],
                   charts, [("Phase funnel", table)])


def groups_section(t: RunTables) -> Section:
    """The learner groups, their sizes, mean scores and component profiles."""
    groups = t.groups.sort_values("group_id")
    scored = groups[groups["mean_score"].notna() & (groups["size"] > 0)]
    if len(scored):
        low = scored.sort_values("mean_score").iloc[0]
        headline = Finding("lowest_group", f"The group \"{low['name']}\" ({low['size']} learners) has the lowest mean "
                           f"engagement score: {low['mean_score']:.0f}.", round(float(low["mean_score"]), 1), "points",
                           f"group {low['group_id']}")
    else:
        headline = Finding("lowest_group", "No learner group has a score yet.", 0.0, "groups")
    latest = t.phase_scores.sort_values("phase_index").groupby(["user_id", "course_id"]).tail(1)
    profile = (latest.merge(t.learners[["user_id", "course_id", "group_id"]], on=["user_id", "course_id"])
               .merge(groups[["group_id", "name"]], on="group_id")
               .groupby("name")[list(COMPONENT_NAMES)].mean().dropna(axis=1, how="all").T)
    charts = [Chart("group_sizes", "Learners per group", "barh", groups.set_index("name")[["size"]],
                    xlabel="learners"),
              Chart("group_profiles", "Mean component score in the latest phase, by group", "bar", profile.round(1),
                    ylabel="score 0-100")]
    table = groups[["name", "size", "mean_score", "profile"]]
    return Section("groups", "Learner groups", [headline], charts, [("Groups", table)])


def phase_score_summary(phase_scores: pd.DataFrame) -> pd.DataFrame:
    """Return per course x phase (curriculum order): learners, median and mean engagement
    score, and the share of learners in each band."""
    rows = []
    for (course, index, phase), part in phase_scores.groupby(["course_id", "phase_index", "phase"], sort=True):
        bands = part["band"].value_counts(normalize=True) if "band" in part else pd.Series(dtype=float)
        rows.append({"course_id": course, "phase": phase, "learners": int(part["user_id"].nunique()),
                     "median_score": round(float(part["engagement_score"].median()), 1),
                     "mean_score": round(float(part["engagement_score"].mean()), 1),
                     **{f"{b}_share": round(float(bands.get(b, 0.0)), 3) for b in ("low", "medium", "high")}})
    return pd.DataFrame(rows)
