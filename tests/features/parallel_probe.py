"""A function for worker processes (importable by spawned children)."""


def blas_threads(_: int) -> list[int]:
    """Return the thread counts of the BLAS/OpenMP pools numpy brings (loaded here, after the
    worker initializer ran)."""
    import numpy  # noqa: F401 - loads the BLAS library
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info()]


def worker_pid(_: int) -> int:
    """Return the worker's process id, after a pause long enough for every worker to get items."""
    import os
    import time

    time.sleep(0.05)
    return os.getpid()
