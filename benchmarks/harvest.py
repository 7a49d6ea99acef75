"""Benchmark: harvest a generated CKAN catalogue end to end, against the floor, with peak memory.

    python benchmarks/harvest.py                      # 100,000 datasets
    python benchmarks/harvest.py --datasets 1000000   # 1,000,000 datasets
    python benchmarks/harvest.py --datasets 100000 --datasets 1000000

The sample agencies serve N synthetic packages (shaped and sized like data.overheid.nl's, about
3-4 KB of JSON each) through the CKAN ``package_search`` protocol, in their own process. Then, each
in a fresh child process so that its peak RSS is its own:

* **floor**: the same pages fetched (requests, rows=1000) and JSON-parsed, nothing else;
* **end to end**: the project's harvest (landing, normalise, stage), validation (GX suites,
  quarantine) and publish (DuckDB, exports), exactly as the DAG tasks call them, **each step in a
  process of its own**, as Airflow runs each task of the DAG: what the harvest held is gone before
  validation starts.

It prints, per step, the seconds, the CPU seconds (the step's process and its children: the
harvest's page worker, publish's catalogue page writers) and the peak RSS of the step's process
tree (sampled every 20 ms, and at least the process's own ``ru_maxrss``); the end to end's seconds
and CPU seconds are the sums, its peak RSS the largest step's, its rate datasets/s over the summed
seconds and as a share of the floor's. Publish also prints the seconds of its phases (the store's
transaction, the Parquet and CSV tables, the DCAT-AP-NL catalogue, the algorithm register export:
``timings_s`` of its summary), and the end to end is shown a second time without the catalogue's
seconds: closer to the scope of the dlt pipeline issue 2 compares with (a REST API into DuckDB),
though validation and the Parquet and CSV exports are still more than it does.
``--steps`` measures a part (``--steps harvest`` for the harvest alone). Figures go to the
README by hand; nothing here asserts a time (tests never do).
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
# A generic dlt REST pipeline into DuckDB on 6,720 real data.overheid.nl packages here (issue 2).
DLT_DS_PER_S = 500
RUN_ID = "benchmark"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (page worker, catalogue page writers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _TreeRss:
    """Peak RSS of this process plus its children (the workers), sampled every 20 ms; also
    each one's own peak (``peak_own``, ``peak_children``), to tell where a step's memory is.

    ``ru_maxrss`` counts this process only; while the harvest's worker runs, both hold memory.
    """

    def __init__(self) -> None:
        import threading

        import psutil

        self.peak = self.peak_own = self.peak_children = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            try:
                own = self._me.memory_info().rss
                children = sum(c.memory_info().rss for c in self._me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak = max(self.peak, own + children)
            self.peak_own, self.peak_children = max(self.peak_own, own), max(self.peak_children, children)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"peak_rss_mib": max(peak_rss_mib(), self.peak / 2**20), "peak_rss_own_mib": self.peak_own / 2**20,
                "peak_rss_children_mib": self.peak_children / 2**20}


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


def _measured(step: str, data_dir: str, work, out: mp.Queue) -> None:
    """Run ``work()`` and report its seconds, CPU seconds and peak RSS (this process and its
    children, e.g. the harvest's page worker) together with what it returned."""
    os.environ["INVENTORY_DATA_DIR"] = data_dir
    tree = _TreeRss()
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = work()
    out.put({"step": step, "seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu,
             **tree.stop(), **result})


def _source(url: str):
    from inventory.config import SourceConfig

    return SourceConfig(id="generated", kind="ckan", url=f"{url}/ckan/generated/api/3/action/",
                        allow_private_network=True, options={"rows": ROWS})


def step_harvest(url: str, data_dir: str, out: mp.Queue) -> None:
    def work() -> dict:
        from inventory.harvest import harvest_source

        report = harvest_source(_source(url), RUN_ID)
        return {"datasets": report["records_received"], "status": report["status"]}

    _measured("harvest", data_dir, work, out)


def step_validate(url: str, data_dir: str, out: mp.Queue) -> None:
    def work() -> dict:
        from inventory.quality.validate import validate_batch
        from inventory.staging import Batch

        validate_batch(Batch.for_run(_source(url).id, RUN_ID), build_docs=False)
        return {}

    _measured("validate", data_dir, work, out)


def step_publish(url: str, data_dir: str, out: mp.Queue) -> None:
    def work() -> dict:
        from inventory.publish import publish

        return {"phases": publish()["timings_s"]}

    _measured("publish", data_dir, work, out)


STEPS = {"harvest": step_harvest, "validate": step_validate, "publish": step_publish}


def _row(size: str, name: str, r: dict, note: str = "") -> None:
    print(f"{size:>10} {name:>10} {r['seconds']:>9.1f} {r['cpu_seconds']:>8.1f} {r['peak_rss_mib']:>8.0f} MiB  {note}",
          flush=True)


def end_to_end(url: str, data_dir: str, steps: list[str]) -> dict:
    """Each step in a fresh child process, as Airflow runs each DAG task in its own process: the
    harvest's memory is gone before validation starts. The end to end's peak RSS is the largest
    step's; its seconds and CPU seconds are the sums."""
    results = {}
    for name in steps:
        results[name] = in_child(STEPS[name], url, data_dir)
        r = results[name]
        note = f" (at their peaks: process {r['peak_rss_own_mib']:.0f} MiB, workers {r['peak_rss_children_mib']:.0f} MiB)" \
            if r["peak_rss_children_mib"] else ""
        if r.get("phases"):
            note += "\n" + " " * 33 + "seconds: " + ", ".join(f"{phase} {s:.1f}" for phase, s in r["phases"].items())
        _row("", name, r, note)  # as each step ends: a 1,000,000 run takes a while
    harvest = results.get("harvest", {})
    return {
        "datasets": harvest.get("datasets"),
        "status": harvest.get("status"),
        "seconds": sum(r["seconds"] for r in results.values()),
        "cpu_seconds": sum(r["cpu_seconds"] for r in results.values()),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in results.values()),
        "steps": results,
    }


def run(datasets: int, steps: list[str]) -> dict:
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
        print(f"{datasets:>10,}", flush=True)
        base = in_child(floor, url) if "floor" in steps else None
        if base:
            _row("", "floor", base, f"{base['datasets'] / base['seconds']:,.0f} ds/s")
        data_dir = tempfile.mkdtemp(prefix="inventory-bench-")
        try:
            e2e = end_to_end(url, data_dir, [s for s in STEPS if s in steps])
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"datasets": datasets, "floor": base, "end_to_end": e2e}


def _summary(n: int, r: dict) -> None:
    f, e = r["floor"], r["end_to_end"]
    note = "peak RSS: the largest step's"
    if e["datasets"] and len(e["steps"]) == len(STEPS):
        rate = e["datasets"] / e["seconds"]
        share = f" ({rate / (f['datasets'] / f['seconds']):.0%} of the floor)" if f else ""
        note = f"{rate:,.0f} ds/s{share}; {note}"
    _row("", "end to end", e, note)
    catalogue_s = (e["steps"].get("publish", {}).get("phases") or {}).get("catalog")
    if e["datasets"] and catalogue_s is not None and len(e["steps"]) == len(STEPS):
        # The DCAT-AP-NL catalogue in three syntaxes is half the end to end at a million datasets and
        # no part of what the dlt pipeline does (a REST API into DuckDB): shown apart, not left out.
        rate = e["datasets"] / (e["seconds"] - catalogue_s)
        share = f", {rate / (f['datasets'] / f['seconds']):.0%} of the floor" if f else ""
        print(f"{'':>10} {'':>10} {e['seconds'] - catalogue_s:>9.1f} {'':>8} {'':>12}  without the catalogue's "
              f"{catalogue_s:.1f} s: {rate:,.0f} ds/s ({rate / DLT_DS_PER_S:.1f}x dlt's {DLT_DS_PER_S} ds/s{share})",
              flush=True)
    if e["datasets"] is not None and e["datasets"] != n:
        print(f"  warning: the harvest received {e['datasets']:,} of {n:,} datasets (status {e['status']})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, action="append", help="catalogue size (repeatable); default 100000")
    parser.add_argument("--steps", nargs="+", choices=["floor", *STEPS], default=["floor", *STEPS],
                        help="what to measure (default: all); validate needs harvest, publish needs validate")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    order = ["floor", *STEPS]
    for needed, step in zip(order[1:], order[2:]):
        if step in args.steps and needed not in args.steps:
            parser.error(f"{step} needs {needed}")
    sizes = args.datasets or [100_000]
    results = []
    print(f"{'datasets':>10} {'step':>10} {'seconds':>9} {'CPU s':>8} {'peak RSS':>12}  (each step in a fresh process; "
          "CPU s and RSS include its worker processes)", flush=True)
    for n in sizes:
        r = run(n, args.steps)
        results.append(r)
        _summary(n, r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
