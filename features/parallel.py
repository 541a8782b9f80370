"""The one process pool: CPU-bound work over worker processes, one native thread each.

A pool is started once per worker count and kept for the life of the process: a run's audio
batches (and the next run's, in a long-lived process) reuse its warm workers, whose imports and
compiled code (librosa's numba kernels) a fresh pool would pay for again on every batch.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS")


def one_native_thread() -> None:
    """Worker initializer: one BLAS/OpenMP thread per process (the pool is the parallelism;
    nested thread pools oversubscribe the cores and run about twice as slow). The variables
    cover the libraries the work imports later; ``threadpool_limits`` those already loaded."""
    from threadpoolctl import threadpool_limits

    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    threadpool_limits(1)


def process_imap(fn: Callable[..., R], *iterables: Iterable, workers: int | None = None,
                 chunksize: int = 16, min_items: int = 8) -> Iterator[R]:
    """Yield ``fn(*args)`` for ``args in zip(*iterables)``, in order, computed over worker
    processes while the caller consumes the results.

    Runs in this process when there are fewer than ``min_items`` items or ``workers == 1``; the
    first item of the first call with each ``fn`` also runs here.
    Workers are spawned, not forked: callers (Prefect, tests) have threads running. ``fn``
    must be importable at module level. Exceptions raised by ``fn`` propagate.
    """
    columns = [list(it) for it in iterables]
    if not columns or len(columns[0]) < min_items or workers == 1:
        yield from (fn(*args) for args in zip(*columns))
        return
    name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
    if name not in _WARMED:
        # The first item of a function's first call runs here, so whatever it compiles and caches
        # on disk (librosa's numba kernels) is compiled once and then loaded by the workers: first
        # compiles racing in several processes can write mismatched cache files that crash every
        # later reader (numba issue #10128).
        yield fn(*(column[0] for column in columns))
        _WARMED.add(name)
        columns = [column[1:] for column in columns]
    size = workers or os.cpu_count() or 1
    pool = _pool(size)
    try:
        yield from pool.map(fn, *columns, chunksize=chunksize)
    except BrokenProcessPool:  # a worker died (killed, out of memory): the next call starts afresh
        with _LOCK:
            if _POOLS.get(size) is pool:
                del _POOLS[size]
        raise


_POOLS: dict[int, ProcessPoolExecutor] = {}
_WARMED: set[str] = set()  # functions whose first item ran in this process
_LOCK = threading.Lock()


def _pool(workers: int) -> ProcessPoolExecutor:
    with _LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=one_native_thread)
        return _POOLS[workers]


def process_map(fn: Callable[..., R], *iterables: Iterable, workers: int | None = None,
                chunksize: int = 16, min_items: int = 8) -> list[R]:
    """Return ``list(process_imap(...))``: every result, in order."""
    return list(process_imap(fn, *iterables, workers=workers, chunksize=chunksize, min_items=min_items))
