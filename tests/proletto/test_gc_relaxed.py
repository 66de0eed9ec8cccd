import gc

import pytest

from proletto.gc_relaxed import GC_FIRST_THRESHOLD, gc_relaxed


def test_the_collectors_thresholds_come_back_when_the_last_relaxed_run_ends():
    before = gc.get_threshold()
    with gc_relaxed():
        with gc_relaxed():
            assert gc.get_threshold()[0] == max(GC_FIRST_THRESHOLD, before[0])
        # Another run in the process is still relaxed: its threshold stays.
        assert gc.get_threshold()[0] == max(GC_FIRST_THRESHOLD, before[0])
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_when_the_run_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gc_relaxed():
        raise RuntimeError("a batch failed")
    assert gc.get_threshold() == before


def test_a_process_that_turned_the_collector_off_keeps_it_off_during_a_run():
    before = gc.get_threshold()
    gc.set_threshold(0, *before[1:])
    try:
        with gc_relaxed():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
