"""Where a run's parallel tasks (telemetry files, audio batches) run: threads in the flow's own
process (the default), or the worker processes of a Dask cluster through prefect-dask.

Tasks pass Parquet paths, so on a cluster every path a task reads or writes (the output root,
the work folder, the audio cache) must be on storage that every worker sees.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Callable, Iterator, Literal

from annotated_types import Ge
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner


@dataclass(frozen=True)
class RunnerOptions:
    """``kind``: ``threads`` or ``dask``. For ``dask``, ``address`` names the scheduler of an
    existing cluster (``tcp://host:8786``); without one, the run starts a local cluster of
    ``workers`` single-threaded processes (None: one per core) for its fan-out stages."""

    kind: Literal["threads", "dask"] = "threads"
    address: str | None = None
    workers: Annotated[int, Ge(1)] | None = None

    @property
    def on_cluster(self) -> bool:
        """Whether tasks run on a Dask cluster's workers, each task in one process."""
        return self.kind == "dask"


@contextmanager
def stage_runners(options: RunnerOptions) -> Iterator[Callable[[int | None], TaskRunner]]:
    """Yield a function giving a new task runner for one stage (``threads``: at most that many
    threads at once); with a local Dask cluster, the cluster lives as long as the context and
    every stage's runner connects to it."""
    if not options.on_cluster:
        yield lambda threads=None: ThreadPoolTaskRunner(max_workers=threads)
        return
    from prefect_dask import DaskTaskRunner

    if options.address:
        yield lambda threads=None: DaskTaskRunner(address=options.address)
        return
    from distributed import LocalCluster
    from prefect.client.orchestration import get_client

    # Workers report their task runs to this run's API, even to an ephemeral server the
    # flow's process started (otherwise each worker would start one of its own).
    with get_client(sync_client=True) as client:
        api_url = str(client.api_url)
    logging.getLogger("distributed").setLevel(logging.WARNING)
    with LocalCluster(n_workers=options.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.WARNING,
                      env={"PREFECT_API_URL": api_url}) as cluster:
        yield lambda threads=None: DaskTaskRunner(address=cluster.scheduler_address)
