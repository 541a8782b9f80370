"""Scale-out through prefect-dask: a run whose config says ``runner: {kind: dask, ...}`` sends its
telemetry files and audio batches to a Dask cluster's worker processes and writes the same
tables, row for row, as a run in threads; without an address the run starts its own cluster."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from prefect import flow, task

from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from flows.runners import RunnerOptions, stage_runners
from outputs.tables import NUDGE_TABLES, TABLES
from tests.flows.platform_run import platform_config, same_tables


@task
def _pid(_: int) -> int:
    time.sleep(0.2)  # long enough for both workers to get tasks
    return os.getpid()


@flow
def _fan_out(n: int) -> list[int]:
    return [f.result() for f in _pid.map(range(n))]


@pytest.mark.slow
def test_a_local_cluster_runs_the_tasks_in_its_worker_processes_for_as_long_as_the_context(prefect_harness):
    with stage_runners(RunnerOptions(kind="dask", workers=2)) as runner:
        first = _fan_out.with_options(task_runner=runner(None))(8)
        second = _fan_out.with_options(task_runner=runner(None))(8)
    assert os.getpid() not in first and len(set(first)) == 2
    assert set(second) == set(first)  # one cluster for every stage of the run
    with stage_runners(RunnerOptions()) as runner:
        assert set(_fan_out.with_options(task_runner=runner(2))(4)) == {os.getpid()}


@pytest.mark.slow
def test_a_run_on_an_existing_dask_cluster_writes_the_tables_of_a_run_in_threads(tmp_path, first_run, small_platform):
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.WARNING) as cluster:
        config = platform_config(tmp_path, small_platform["bucket"], {"kind": "dask", "address": cluster.scheduler_address})
        dask = engagement_pipeline(RunParameters(config_file=config))
        ran = set(cluster.scheduler.task_prefixes)
    assert ran == {"fetch_source", "stage_source", "fetch_audio_batch", "analyse_audio_batch"}
    threads = first_run["manifest"]
    assert dask["run_date"] == threads["run_date"] and dask["counts"] == threads["counts"]
    assert dask["work"] == threads["work"] and threads["work"]["tone_analysed"] > 0
    same_tables(first_run["root"], tmp_path, date.fromisoformat(threads["run_date"]), (*TABLES, *NUDGE_TABLES))
