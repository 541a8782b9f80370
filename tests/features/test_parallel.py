import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from features.parallel import process_map
from tests.features.parallel_probe import blas_threads, worker_pid


def test_workers_run_one_native_thread_even_for_libraries_loaded_after_start():
    process_map(blas_threads, range(8), workers=2, chunksize=1)  # its first item runs in this process
    pools = process_map(blas_threads, range(8), workers=2, chunksize=1)
    assert pools and all(counts and set(counts) == {1} for counts in pools)


def test_results_keep_input_order_and_small_inputs_stay_in_process():
    assert process_map(pow, range(20), [2] * 20, workers=2) == [k * k for k in range(20)]
    assert process_map(pow, [3], [2]) == [9]


def test_a_functions_first_item_runs_here_then_a_pool_is_reused_and_replaced_when_a_worker_dies():
    warm = process_map(worker_pid, range(16), workers=2, chunksize=1)
    assert warm[0] == os.getpid() and os.getpid() not in warm[1:]  # compiled here first, then loaded
    first = set(process_map(worker_pid, range(16), workers=2, chunksize=1))
    assert set(warm[1:]) <= first and os.getpid() not in first
    with pytest.raises(BrokenProcessPool):
        process_map(os.kill, sorted(first), [signal.SIGKILL] * len(first), workers=2, chunksize=1, min_items=1)
    assert set(process_map(worker_pid, range(16), workers=2, chunksize=1)).isdisjoint(first)
