"""What the benchmarks share: running one measured step in a fresh interpreter, and peak RSS.

The scripts are run as ``python benchmarks/<name>.py``, so this folder is on ``sys.path`` (also in
their ``spawn`` children) and ``from child import ...`` finds this module.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from queue import Empty


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(target, *args) -> dict:
    """Run ``target(*args, queue)`` in a clean interpreter (so its peak RSS is the step's own) and
    return what it put on the queue; a child that dies before reporting stops the benchmark with its
    exit code instead of leaving it waiting."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except Empty:
            if not proc.is_alive():
                raise SystemExit(f"{target.__name__} died with exit code {proc.exitcode} before reporting") from None
    proc.join()
    if proc.exitcode:
        raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}")
    return result
