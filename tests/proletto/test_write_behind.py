import sys
import threading

import pytest

from proletto.write_behind import WriteBehind


def test_it_writes_every_batch_in_order_in_one_other_thread():
    threads = []

    def write(batch):
        threads.append(threading.current_thread())
        return batch * 10

    with WriteBehind(write) as writer:
        for batch in range(5):
            writer.submit(batch)
    assert writer.results == [0, 10, 20, 30, 40]
    assert len(set(threads)) == 1
    assert threads[0] is not threading.current_thread()


def test_a_failed_write_is_raised_and_nothing_after_it_is_written():
    written = []

    def write(batch):
        if batch == 2:
            raise RuntimeError("the database refused batch 2")
        written.append(batch)

    with pytest.raises(RuntimeError, match="batch 2"), WriteBehind(write) as writer:
        for batch in range(6):
            writer.submit(batch)
    assert written == [0, 1]


def test_it_gives_back_the_interpreters_switch_interval():
    before = sys.getswitchinterval()
    with WriteBehind(lambda batch: batch) as writer:
        assert sys.getswitchinterval() < before
        writer.submit(1)
    assert sys.getswitchinterval() == before
