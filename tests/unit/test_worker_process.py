"""The worker process behind the harvest's page worker and the catalogue's page writers: calls in order, errors, a worker that dies,
shutdown, and a worker that never runs its caller's main script."""

from __future__ import annotations

import math
import operator
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from inventory.worker_process import RemoteTraceback, WorkerProcess, WorkerProcessEnded

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    process = WorkerProcess("test worker")
    yield process
    process.shutdown(wait=True, cancel_futures=True)


def test_calls_are_answered_in_order_by_another_process(worker):
    futures = [worker.submit(math.factorial, n) for n in range(30)]
    assert [f.result(timeout=60) for f in futures] == [math.factorial(n) for n in range(30)]
    assert worker.submit(os.getpid).result(timeout=60) == worker.process.pid != os.getpid()
    assert worker.submit(int, "ff", base=16).result(timeout=60) == 255


def test_big_calls_and_big_answers_cross_without_blocking_each_other(worker):
    # Both pipes hold 64 KiB: calls of 4 MiB sent while answers of 4 MiB come back must not deadlock.
    # (Submitted from a thread of its own, so that a deadlock fails the test instead of hanging it.)
    blob = b"x" * (4 << 20)
    futures = []
    sender = threading.Thread(target=lambda: futures.extend(worker.submit(bytes, blob) for _ in range(6)), daemon=True)
    sender.start()
    sender.join(timeout=120)
    assert not sender.is_alive(), "submitting big calls blocked: the pipes are deadlocked"
    assert all(f.result(timeout=120) == blob for f in futures)


def test_an_exception_in_the_worker_fails_that_call_only_with_its_traceback(worker):
    failed = worker.submit(operator.truediv, 1, 0)
    after = worker.submit(operator.add, 1, 2)
    with pytest.raises(ZeroDivisionError) as caught:
        failed.result(timeout=60)
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "ZeroDivisionError" in str(caught.value.__cause__)
    assert after.result(timeout=60) == 3


def test_an_answer_that_cannot_be_sent_back_says_so(worker):
    with pytest.raises(TypeError, match=r"the result \(lock\) cannot be sent back"):
        worker.submit(threading.Lock).result(timeout=60)
    assert worker.submit(operator.add, 2, 2).result(timeout=60) == 4


def test_what_the_called_code_prints_goes_to_stderr_not_into_the_answers(capfd):
    worker = WorkerProcess("test worker")
    try:
        assert worker.submit(print, "hello from the worker").result(timeout=60) is None
        assert worker.submit(operator.add, 1, 1).result(timeout=60) == 2
    finally:
        worker.shutdown()
    assert "hello from the worker" in capfd.readouterr().err


def test_a_worker_that_dies_fails_its_calls_saying_how_it_ended(worker):
    sleeping = worker.submit(time.sleep, 30)
    worker.process.kill()
    with pytest.raises(WorkerProcessEnded, match=r"the test worker process ended \(exit code -9\)"):
        sleeping.result(timeout=60)
    with pytest.raises(WorkerProcessEnded, match=r"exit code -9"):  # a call after the end fails the same way
        worker.submit(operator.add, 1, 1).result(timeout=0)


def test_if_reading_the_answers_breaks_no_call_waits_forever(monkeypatch):
    """A slip in the answer reader (a frame nobody asked for, say) must not leave futures hanging:
    the worker is stopped and every call waiting fails with how it ended."""
    def broken(self):
        self.process.stdout.read(1)  # the first answer arrives...
        raise IndexError("pop from an empty deque")  # ...and the reader trips over it
    monkeypatch.setattr(WorkerProcess, "_answer_in_order", broken)
    worker = WorkerProcess("test worker")
    waiting = [worker.submit(operator.add, 1, 1), worker.submit(time.sleep, 30)]
    for future in waiting:
        with pytest.raises(WorkerProcessEnded, match="the test worker process ended"):
            future.result(timeout=60)
    assert worker.process.poll() is not None

def test_shutdown_with_cancel_stops_the_worker_at_once():
    worker = WorkerProcess("test worker")
    sleeping = worker.submit(time.sleep, 60)
    started = time.monotonic()
    worker.shutdown(wait=True, cancel_futures=True)
    assert time.monotonic() - started < 30 and worker.process.poll() is not None
    with pytest.raises(CancelledError):
        sleeping.result(timeout=0)
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(operator.add, 1, 1)


def test_shutdown_without_cancel_lets_the_worker_answer_every_call_first():
    worker = WorkerProcess("test worker")
    futures = [worker.submit(time.sleep, 0.05) for _ in range(5)] + [worker.submit(operator.mul, 6, 7)]
    worker.shutdown(wait=True)
    assert futures[-1].result(timeout=0) == 42 and worker.process.poll() == 0


def test_shutdown_with_cancel_and_nothing_waiting_lets_the_worker_end_by_itself():
    worker = WorkerProcess("test worker")
    assert worker.submit(operator.add, 1, 1).result(timeout=60) == 2
    worker.shutdown(wait=True, cancel_futures=True)
    assert worker.process.wait(timeout=60) == 0  # ended at the end of its input, not killed



# What each user of worker processes does in a caller script.
CALLERS = {
    "worker process": (
        "    from inventory.worker_process import WorkerProcess\n"
        "    worker = WorkerProcess()\n"
        "    assert worker.submit(os.getpid).result(timeout=60) != os.getpid()\n"
        "    worker.shutdown()\n"),
    "harvest page worker": (
        "    from inventory import page_worker\n"
        "    worker = page_worker.start()\n"
        "    worker.submit(page_worker.warm_up, 'ckan').result(timeout=60)\n"
        "    worker.shutdown()\n"),
    "catalogue page writers": (
        "    from inventory import rdf_pages\n"
        "    out = pathlib.Path(sys.argv[1])\n"
        "    with rdf_pages.PageWriter(2, out) as writer:\n"
        "        for page in (1, 2, 3):\n"
        "            writer.submit(page, f'<https://example.nl/{page}> <https://example.nl/p> \"x\" .\\n',\n"
        "                          {'ttl': ''}, out, {'ttl': f'{page}.ttl'})\n"),
}


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_worker_processes_never_run_the_callers_main_script(tmp_path, caller):
    """Under Airflow the main script is the ``airflow`` command: a multiprocessing ``spawn`` child
    imports all of Airflow first (115 MiB and 1.6 s). A worker starts on its own module only."""
    script = tmp_path / "caller.py"
    script.write_text("import os, pathlib, sys\n"
                      "pathlib.Path(sys.argv[1], f'ran-as-{__name__}').touch()\n"
                      "if __name__ == '__main__':\n" + CALLERS[caller])
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "plugins")}
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, env=env, timeout=120)
    ran = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran-as-"))
    assert ran == ["ran-as-__main__"]
    if caller == "catalogue page writers":
        assert sorted(p.name for p in tmp_path.glob("*.ttl")) == ["1.ttl", "2.ttl", "3.ttl"]
