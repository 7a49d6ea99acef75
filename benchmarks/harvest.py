"""Benchmark: harvest a generated CKAN catalogue end to end, against the floor, with peak memory.

    python benchmarks/harvest.py                      # 100,000 datasets
    python benchmarks/harvest.py --datasets 1000000   # 1,000,000 datasets
    python benchmarks/harvest.py --datasets 100000 --datasets 1000000

The sample agencies serve N synthetic packages (shaped and sized like data.overheid.nl's, about
3-4 KB of JSON each) through the CKAN ``package_search`` protocol, in their own process. Then, each
in a fresh child process so that peak RSS is its own:

* **floor**: the same pages fetched (requests, rows=1000) and JSON-parsed, nothing else;
* **end to end**: the project's harvest (landing, normalise, stage), validation (GX suites,
  quarantine) and publish (DuckDB, exports), exactly as the DAG tasks call them.

It prints datasets/s of both, the share of the floor, the time per step, and peak RSS. Figures go to
the README by hand; nothing here asserts a time (tests never do).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from child import in_child, peak_rss_mib

ROWS = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the harvest's page worker)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _TreeRss:
    """Peak RSS of this process plus its children (the page worker), sampled every 20 ms.

    ``ru_maxrss`` counts this process only; while the harvest's worker runs, both hold memory.
    """

    def __init__(self) -> None:
        import threading

        import psutil

        self.peak = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            try:
                total = self._me.memory_info().rss + sum(c.memory_info().rss for c in self._me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20


def floor(url: str, out: mp.Queue) -> None:
    import requests

    session = requests.Session()
    endpoint = f"{url}/ckan/generated/api/3/action/package_search"
    started, cpu = time.perf_counter(), _cpu_seconds()
    start, received, count = 0, 0, None
    while count is None or start < count:
        response = session.get(endpoint, params={"q": "*:*", "rows": ROWS, "start": start, "sort": "id asc"}, timeout=60)
        result = json.loads(response.content)["result"]
        count = result["count"]
        received += len(result["results"])
        start += ROWS
    out.put({"datasets": received, "seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu,
             "peak_rss_mib": peak_rss_mib()})


def end_to_end(url: str, data_dir: str, out: mp.Queue) -> None:
    os.environ["INVENTORY_DATA_DIR"] = data_dir
    from inventory.config import SourceConfig
    from inventory.harvest import harvest_source
    from inventory.publish import publish
    from inventory.quality.validate import validate_batch
    from inventory.staging import Batch

    source = SourceConfig(
        id="generated",
        kind="ckan",
        url=f"{url}/ckan/generated/api/3/action/",
        allow_private_network=True,
        options={"rows": ROWS},
    )
    run_id = "benchmark"
    steps, cpu = {}, {}
    tree = _TreeRss()
    t0, c0 = time.perf_counter(), _cpu_seconds()
    report = harvest_source(source, run_id)
    t1, c1, r1 = time.perf_counter(), _cpu_seconds(), peak_rss_mib()
    validate_batch(Batch.for_run(source.id, run_id), build_docs=False)
    t2, c2, r2 = time.perf_counter(), _cpu_seconds(), peak_rss_mib()
    publish()
    t3, c3, r3 = time.perf_counter(), _cpu_seconds(), peak_rss_mib()
    steps.update(harvest=t1 - t0, validate=t2 - t1, publish=t3 - t2)
    cpu.update(harvest=c1 - c0, validate=c2 - c1, publish=c3 - c2)
    out.put(
        {
            "datasets": report["records_received"],
            "status": report["status"],
            "seconds": t3 - t0,
            "cpu_seconds": c3 - c0,
            "steps": steps,
            "steps_cpu_seconds": cpu,
            # this process's peak so far, after each step (the step that raised it holds the peak)
            "peak_rss_mib_after": {"harvest": r1, "validate": r2, "publish": r3},
            "peak_rss_mib": max(peak_rss_mib(), tree.stop()),
        }
    )


def run(datasets: int) -> dict:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "inventory.demo.sample_agencies", "--port", str(port), "--generated", str(datasets)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"sample agencies did not start: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.1)
        base = in_child(floor, url)
        data_dir = tempfile.mkdtemp(prefix="inventory-bench-")
        try:
            e2e = in_child(end_to_end, url, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"datasets": datasets, "floor": base, "end_to_end": e2e}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, action="append", help="catalogue size (repeatable); default 100000")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    sizes = args.datasets or [100_000]
    results = []
    print(f"{'datasets':>10} {'floor ds/s':>11} {'e2e ds/s':>9} {'share':>6} {'harvest s':>9} {'validate s':>10} {'publish s':>9} "
          f"{'floor RSS':>10} {'e2e RSS':>9}   CPU s: {'floor':>6} {'e2e':>6} (harvest/validate/publish)")
    for n in sizes:
        r = run(n)
        results.append(r)
        f, e = r["floor"], r["end_to_end"]
        f_rate, e_rate = f["datasets"] / f["seconds"], e["datasets"] / e["seconds"]
        print(
            f"{n:>10,} {f_rate:>11,.0f} {e_rate:>9,.0f} {e_rate / f_rate:>6.0%} {e['steps']['harvest']:>9.1f} "
            f"{e['steps']['validate']:>10.1f} {e['steps']['publish']:>9.1f} {f['peak_rss_mib']:>7.0f} MiB {e['peak_rss_mib']:>5.0f} MiB"
            f"          {f['cpu_seconds']:>6.1f} {e['cpu_seconds']:>6.1f} "
            f"({'/'.join(format(e['steps_cpu_seconds'][k], '.1f') for k in ('harvest', 'validate', 'publish'))})",
            flush=True,
        )
        if e["datasets"] != n:
            print(f"  warning: end to end received {e['datasets']:,} of {n:,} datasets (status {e['status']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
