"""Run calls in a plain ``python -m inventory.worker_process`` process, one after another, in order.

Why not ``multiprocessing`` (or ``concurrent.futures.ProcessPoolExecutor`` on it): a ``spawn`` or
``forkserver`` child first re-imports its parent's main script. In an Airflow task that script is
the ``airflow`` command, so every worker imported Airflow before it did any work: 115 MiB and 1.6 s
a worker, measured. This process starts on this module alone; a call's module is imported when the
first call needs it.

:class:`WorkerProcess` is a :class:`concurrent.futures.Executor` of one such process, so a caller
uses it as it would a pool of one: ``submit`` gives a ``Future``; ``shutdown`` ends it.

Protocol: frames of an 8-byte length and a pickle. A call ``(module, function name, args,
kwargs)`` goes in on the worker's stdin; ``("ok", result)`` or ``("error", exception, traceback
text)`` comes out, one per call, in the order the calls were sent. A frame that does not unpickle
fails that call only (the length says where the next one starts). The worker answers on its own copy of stdout and points its file descriptor 1 at
stderr, so that anything the called code prints lands in the task's log, never in the answers.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import traceback
from collections import deque
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import IO, Any, Callable

log = logging.getLogger("inventory.worker_process")

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_LENGTH = struct.Struct("<Q")


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at the end of the stream (or of a frame cut short: the writer died)."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    data = stream.read(size)
    return data if len(data) == size else None


class WorkerProcessEnded(RuntimeError):
    """The worker process ended before it answered a call (killed, out of memory, crashed)."""


class RemoteTraceback(Exception):
    """The worker's traceback of an exception raised there, set as that exception's ``__cause__``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def plugins_env() -> dict[str, str]:
    """This environment with ``inventory``'s folder first on PYTHONPATH: Airflow puts its plugins
    folder on ``sys.path`` itself, and a child process started by hand would not find it."""
    plugins = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (plugins, os.environ.get("PYTHONPATH")) if p)}


class WorkerProcess(Executor):
    """An executor of one worker process; ``role`` names it in errors ("page worker")."""

    def __init__(self, role: str = "worker") -> None:
        self.role = role
        # stderr is inherited: whatever the worker writes there lands in the task's log.
        self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=plugins_env())
        self._waiting: deque[Future] = deque()  # sent and not yet answered, in order
        self._lock = threading.Lock()  # guards the queue and the state
        self._sending = threading.Lock()  # one call written at a time
        self._ended: WorkerProcessEnded | None = None
        self._shut_down = False
        self._reader = threading.Thread(target=self._read_answers, name=f"{role}-answers", daemon=True)
        try:
            self._reader.start()
        except BaseException:  # no thread to read its answers: the worker must not outlive this
            self.process.kill()
            self.process.wait()
            raise

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Send the call now; its Future resolves when the worker answers, or fails with
        :class:`WorkerProcessEnded` once the worker has ended (a call made after that fails the
        same way, so a caller handles a dead worker in one place). ``fn`` must be a module-level
        function (it is named, not pickled by value)."""
        future: Future = Future()
        call = pickle.dumps((fn.__module__, fn.__qualname__, args, kwargs), protocol=_PROTOCOL)
        # Calls are written in the order their futures are queued. The queue's lock is not held while
        # writing: a big call waits for the worker to read it, and the worker may first be waiting
        # for this process to read a big answer, which needs that lock.
        with self._sending:
            with self._lock:
                if self._shut_down:
                    raise RuntimeError(f"the {self.role} process is shut down; no new calls")
                if self._ended is not None:
                    future.set_exception(self._ended)
                    return future
                self._waiting.append(future)
            assert self.process.stdin is not None
            try:
                _write_frame(self.process.stdin, call)
            except OSError:
                pass  # the worker is gone: the answer reader fails this future with how it ended
        return future

    def _read_answers(self) -> None:
        try:
            self._answer_in_order()
        except Exception:  # a bug here; said in the log, and the worker is stopped below
            log.exception("the %s process's answers could not be read; it is stopped", self.role)
        finally:  # however the reading stopped, no call is left waiting for an answer
            code = self.process.poll()
            if code is None:  # the answers make no sense any more: stop the worker
                self.process.kill()
                code = self.process.wait()
            ended = WorkerProcessEnded(f"the {self.role} process ended (exit code {code})")
            with self._lock:
                self._ended = ended
                waiting, self._waiting = self._waiting, deque()
            for future in waiting:
                if future.set_running_or_notify_cancel():
                    future.set_exception(ended)

    def _answer_in_order(self) -> None:
        assert self.process.stdout is not None
        answers = self.process.stdout
        while (frame := _read_frame(answers)) is not None:
            with self._lock:
                future = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while the worker ran it: nobody wants the answer
            try:
                answer = pickle.loads(frame)
            except Exception as exc:  # a class this process cannot rebuild, say
                future.set_exception(RuntimeError(f"the {self.role} process's answer cannot be read here: "
                                                  f"{type(exc).__name__}: {exc}"))
                continue
            if answer[0] == "ok":
                future.set_result(answer[1])
            else:
                exc = answer[1]
                exc.__cause__ = RemoteTraceback(answer[2])
                future.set_exception(exc)
        self.process.wait()  # end of its answers: the worker has ended or is ending

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls. ``cancel_futures``: the answers still due are not wanted, so the worker is
        stopped at once; otherwise it ends when it has answered every call (``wait`` waits for that)."""
        with self._lock:
            self._shut_down = True
            waiting = list(self._waiting)
            # With nothing waiting, closing the input ends the worker as well as a kill would.
            unwanted = cancel_futures and bool(waiting) and all(future.cancel() for future in waiting)
        if unwanted:
            self.process.kill()
        with self._sending:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()  # end of input: the worker stops after its last answer
            except OSError:
                pass
        if wait:
            self._reader.join()


def _answer(call: bytes) -> tuple:
    try:
        module, name, args, kwargs = pickle.loads(call)
        fn: Any = importlib.import_module(module)
        for part in name.split("."):
            fn = getattr(fn, part)
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:
        return ("error", exc, traceback.format_exc())


def serve(calls: IO[bytes], answers: IO[bytes]) -> None:
    """The worker's loop: answer each call until the input ends."""
    while (call := _read_frame(calls)) is not None:
        answer = _answer(call)
        try:
            data = pickle.dumps(answer, protocol=_PROTOCOL)
        except Exception as exc:  # a result or an exception that cannot be pickled: say what it was
            if answer[0] == "ok":
                problem: Exception = TypeError(f"the result ({type(answer[1]).__name__}) cannot be sent back: {exc}")
                data = pickle.dumps(("error", problem, ""), protocol=_PROTOCOL)
            else:
                error = answer[1]
                data = pickle.dumps(("error", RuntimeError(f"{type(error).__name__}: {error}"), answer[2]),
                                    protocol=_PROTOCOL)
        _write_frame(answers, data)


def main() -> None:
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a print in the called code goes to stderr (the task log), not into the answers
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
