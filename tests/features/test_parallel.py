from features.parallel import process_map
from tests.features.parallel_probe import blas_threads


def test_workers_run_one_native_thread_even_for_libraries_loaded_after_start():
    pools = process_map(blas_threads, range(8), workers=2, chunksize=1)
    assert pools and all(counts and set(counts) == {1} for counts in pools)


def test_results_keep_input_order_and_small_inputs_stay_in_process():
    assert process_map(pow, range(20), [2] * 20, workers=2) == [k * k for k in range(20)]
    assert process_map(pow, [3], [2]) == [9]
