"""Benchmark: validate (GX suites, quarantine) and publish (DuckDB, exports) one staged batch.

    python benchmarks/validate_publish.py                        # 100,000 datasets
    python benchmarks/validate_publish.py --datasets 1000000
    python benchmarks/validate_publish.py --datasets 100000 --profile validate

A staged batch of N datasets (plus their 2-4 distributions each) is generated as the harvest would
leave it: the benchmark catalogue's packages (``inventory.demo.generated.package_for``) mapped by
the CKAN source module (``map_package``) and written with ``staging.TableWriter`` into
``harvested/<table>.parquet``, with a ``report.json`` in state ``harvested``. A small share of the
records is spoiled on purpose (``--bad-share``, default 0.5 %: unknown licence, identifier with a
space, modified in the future, repeated uid, access URL that is not a web address) so that the
quarantine path is exercised too. The generated files are cached per N (``--cache``), since making
them takes longer than what is measured.

Then, each in a fresh spawned child process (so that peak RSS is the step's own):

* **validate**: ``validate_batch(batch, build_docs=False)``;
* **publish**: ``publish()`` into an empty DuckDB store (plus the export release);
* **republish** (``--republish``): the same records again as a new complete batch, against the
  store the first publish left (every row compared, nothing changed).

It prints seconds, CPU seconds (all threads; steadier than the wall clock when the machine is
shared), rows/s (all record tables) and peak RSS (``ru_maxrss``) per step. The seconds include
importing what the step imports (Great Expectations takes seconds), as in the DAG's tasks and in
``benchmarks/harvest.py``. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from child import in_child, peak_rss_mib

SOURCE_ID = "generated"
RUN_ID = "benchmark"
PAGE = 1000  # records per landed page (one raw_sha256 per page, as the harvest stamps it)


def _cpu_s() -> float:
    """CPU seconds (user + system, every thread) of this process so far: steadier than the wall
    clock on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ------------------------------------------------------------------------------------ generation
def _spoil(i: int, row: dict, dists: list[dict], prev_uid: str | None) -> None:
    """Make about 0.5 % of the records fail a critical expectation, deterministically by index."""
    kind = i % 1000
    if kind == 1:
        row["license"] = "http://example.org/licence/unknown"
    elif kind == 2:
        row["identifier"] = "not an identifier " + str(i)
    elif kind == 3:
        row["modified"] = "2199-01-01T00:00:00Z"
    elif kind == 4 and prev_uid is not None:
        row["dataset_uid"] = prev_uid  # a repeated key: the second one is quarantined
    elif kind == 5 and dists:
        dists[0]["access_url"] = "ftp:/nowhere"


def _generate_part(args: tuple[int, int, int, str]) -> tuple[list[dict], list[dict]]:
    start, stop, bad_every, harvested_at = args
    import hashlib
    from datetime import datetime

    from inventory.config import SourceConfig
    from inventory.demo.generated import package_for
    from inventory.landing import LandedPage, PageRequest
    from inventory.sources.base import ParseContext
    from inventory.sources.ckan import map_package

    source = SourceConfig(id=SOURCE_ID, kind="ckan", url="http://127.0.0.1/ckan/generated/api/3/action/",
                          allow_private_network=True, options={"rows": PAGE})
    ctx = ParseContext(RUN_ID, datetime.fromisoformat(harvested_at))
    datasets: list[dict] = []
    distributions: list[dict] = []
    page = None
    prev_uid = None
    for i in range(start, stop):
        if page is None or i % PAGE == 0:
            sha = hashlib.sha256(f"page {i // PAGE}".encode()).hexdigest()
            page = LandedPage(SOURCE_ID, i // PAGE, PageRequest("GET", source.url), source.url, 200, {}, b"", sha, harvested_at)
        item = map_package(source, package_for(i), page, ctx)
        row, dists = item.row, item.children["distributions"]
        if bad_every:
            _spoil(i, row, dists, prev_uid)
        prev_uid = item.row["dataset_uid"]
        datasets.append(row)
        distributions.extend(dists)
    return datasets, distributions


def generate(n: int, folder: Path, bad: bool) -> dict:
    """Write harvested/datasets.parquet + distributions.parquet + report.json for N datasets."""
    from datetime import datetime, timezone

    from inventory import model
    from inventory.staging import TableWriter

    started = time.perf_counter()
    harvested = folder / "harvested"
    harvested.mkdir(parents=True, exist_ok=True)
    harvested_at = datetime.now(timezone.utc).isoformat()
    writers = {
        "datasets": TableWriter(harvested / "datasets.parquet", model.DATASETS),
        "distributions": TableWriter(harvested / "distributions.parquet", model.DISTRIBUTIONS),
    }
    step = 5000
    parts = [(s, min(s + step, n), 1 if bad else 0, harvested_at) for s in range(0, n, step)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, (os.cpu_count() or 2))) as pool:
        for datasets, distributions in pool.imap(_generate_part, parts):
            writers["datasets"].write_many(datasets)
            writers["distributions"].write_many(distributions)
    for w in writers.values():
        w.close()
    rows = {t: w.rows_written for t, w in writers.items()}
    finished_at = datetime.now(timezone.utc).isoformat()
    report = {
        "run_id": RUN_ID, "source_id": SOURCE_ID, "kind": "ckan", "status": "complete",
        "started_at": harvested_at, "finished_at": finished_at, "duration_s": 0.0,
        "pages": (n + PAGE - 1) // PAGE, "records_reported": n, "records_received": n,
        "records_valid": None, "records_quarantined": 0, "added": None, "changed": None, "removed": None,
        "message": f"benchmark batch of {n} datasets", "error": None,
        "state": "harvested", "record_table": "datasets", "rows_staged": rows, "duplicates": 0, "refused": 0,
        "pages_replayed": 0, "incremental": False, "since": None, "high_water_mark": None,
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    print(f"  generated {n:,} datasets, {rows['distributions']:,} distributions in "
          f"{time.perf_counter() - started:.0f}s -> {folder}", flush=True)
    return rows


def cached_batch(n: int, cache: Path, bad: bool) -> Path:
    folder = cache / f"{n}{'' if bad else '-clean'}"
    if not (folder / "report.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(n, folder, bad)
    return folder


def stage_copy(cached: Path, data_dir: Path, batch_id: str) -> Path:
    """Put a copy of the cached harvested batch into ``data_dir``'s staging area."""
    target = data_dir / "staging" / SOURCE_ID / batch_id
    (target / "harvested").mkdir(parents=True)
    for f in (cached / "harvested").iterdir():
        os.link(f, target / "harvested" / f.name) if _same_fs(f, target) else shutil.copy(f, target / "harvested" / f.name)
    report = json.loads((cached / "report.json").read_text())
    report.update(run_id=batch_id, batch_path=str(target))
    (target / "report.json").write_text(json.dumps(report, indent=2))
    return target


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


# ------------------------------------------------------------------------------------ steps
def _profiled(fn, profile: str | None):
    if not profile:
        return fn()
    import cProfile
    import pstats

    prof = cProfile.Profile()
    try:
        return prof.runcall(fn)
    finally:
        prof.dump_stats(profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)


def step_validate(data_dir: str, batch_id: str, chunk_rows: int | None, profile: str | None, out) -> None:
    os.environ["INVENTORY_DATA_DIR"] = data_dir
    from inventory.quality.validate import validate_batch
    from inventory.staging import Batch

    kwargs = {"chunk_rows": chunk_rows} if chunk_rows else {}
    started, cpu = time.perf_counter(), _cpu_s()
    summary = _profiled(lambda: validate_batch(Batch(SOURCE_ID, batch_id), build_docs=False, **kwargs), profile)
    seconds = time.perf_counter() - started
    out.put({"seconds": seconds, "cpu": _cpu_s() - cpu, "rows": sum(t["rows"] for t in summary["tables"].values()),
             "tables": summary["tables"], "peak_rss_mib": peak_rss_mib()})


def step_publish(data_dir: str, batch_id: str, profile: str | None, out) -> None:
    os.environ["INVENTORY_DATA_DIR"] = data_dir
    from inventory.publish import publish
    from inventory.staging import Batch

    started, cpu = time.perf_counter(), _cpu_s()
    summary = _profiled(lambda: publish([Batch(SOURCE_ID, batch_id)]), profile)
    seconds = time.perf_counter() - started
    b = summary["batches"][0]
    out.put({"seconds": seconds, "cpu": _cpu_s() - cpu, "rows": sum(b.get("loaded", {}).values()),
             "counts": {**{k: b.get(k) for k in ("added", "changed", "removed")},
                        "phases_s": summary.get("timings_s", {})},
             "peak_rss_mib": peak_rss_mib()})


def step_both(data_dir: str, batch_id: str, chunk_rows: int | None, out) -> None:
    """Validate then publish in one process (as ``benchmarks/harvest.py`` ran them before each step had a process of its own)."""
    os.environ["INVENTORY_DATA_DIR"] = data_dir
    from inventory.publish import publish
    from inventory.quality.validate import validate_batch
    from inventory.staging import Batch

    kwargs = {"chunk_rows": chunk_rows} if chunk_rows else {}
    started, cpu = time.perf_counter(), _cpu_s()
    summary = validate_batch(Batch(SOURCE_ID, batch_id), build_docs=False, **kwargs)
    validated = time.perf_counter()
    rss_after_validate = peak_rss_mib()
    published = publish([Batch(SOURCE_ID, batch_id)])
    seconds = time.perf_counter() - started
    out.put({"seconds": seconds, "cpu": _cpu_s() - cpu, "validate_s": validated - started,
             "publish_s": seconds - (validated - started), "peak_rss_after_validate_mib": rss_after_validate,
             "rows": sum(t["rows"] for t in summary["tables"].values()),
             "counts": {k: published["batches"][0].get(k) for k in ("added", "changed", "removed")},
             "peak_rss_mib": peak_rss_mib()})


def _show(n: int, step: str, s: dict) -> None:
    """One step's line, printed as the step ends (a 1,000,000 run takes a while, and a step that
    fails must not take the figures of the steps before it along)."""
    if step == "validate+publish":
        print(f"{'':>10} {'':>10} validate {s['validate_s']:.2f}s, publish {s['publish_s']:.2f}s, "
              f"peak RSS after validate {s['peak_rss_after_validate_mib']:.0f} MiB", flush=True)
    extra = s.get("counts") or {t: {k: v for k, v in c.items() if k in ("valid", "quarantined")}
                                 for t, c in s.get("tables", {}).items()}
    print(f"{n:>10,} {step:>10} {s['rows']:>10,} {s['seconds']:>8.2f} {s['cpu']:>7.2f} {s['rows'] / s['seconds']:>9,.0f} "
          f"{s['peak_rss_mib']:>5.0f} MiB  {json.dumps(extra)}", flush=True)


def run(n: int, args) -> dict:
    cached = cached_batch(n, args.cache, not args.clean)
    data_dir = Path(tempfile.mkdtemp(prefix="inventory-vp-", dir=args.workdir))

    def step(name: str, target, *step_args) -> dict:
        result = in_child(target, *step_args)
        _show(n, name, result)
        return result

    try:
        prof = lambda step: str(args.cache / f"{step}-{n}.prof") if step in (args.profile or []) else None  # noqa: E731
        if args.one_process:
            stage_copy(cached, data_dir, "run1")
            both = step("validate+publish", step_both, str(data_dir), "run1", args.chunk_rows)
            return {"datasets": n, "validate+publish": both,
                    "store_mib": (data_dir / "inventory.duckdb").stat().st_size / 2**20}
        stage_copy(cached, data_dir, "run1")
        v = step("validate", step_validate, str(data_dir), "run1", args.chunk_rows, prof("validate"))
        p = step("publish", step_publish, str(data_dir), "run1", prof("publish"))
        out = {"datasets": n, "validate": v, "publish": p}
        if args.republish:
            stage_copy(cached, data_dir, "run2")
            in_child(step_validate, str(data_dir), "run2", args.chunk_rows, None)
            out["republish"] = step("republish", step_publish, str(data_dir), "run2", prof("republish"))
        out["store_mib"] = (data_dir / "inventory.duckdb").stat().st_size / 2**20
        return out
    finally:
        if args.keep:
            print(f"kept: {data_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, action="append", help="datasets in the batch (repeatable); default 100000")
    parser.add_argument("--chunk-rows", type=int, help="validate_batch chunk_rows (default: its own)")
    parser.add_argument("--republish", action="store_true", help="also publish the same records a second time")
    parser.add_argument("--clean", action="store_true", help="no spoiled records (nothing quarantined)")
    parser.add_argument("--one-process", action="store_true",
                        help="validate and publish in one child process (as benchmarks/harvest.py did before each step had its own): its peak RSS")
    parser.add_argument("--profile", action="append", choices=["validate", "publish", "republish"],
                        help="cProfile this step (prints the top functions; .prof kept in the cache folder)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "inventory-vp-cache",
                        help="where generated batches are kept between runs")
    parser.add_argument("--workdir", type=Path, default=None, help="where the throw-away data dir is made")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (store, exports) to look at afterwards")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    results = []
    print(f"{'datasets':>10} {'step':>10} {'rows':>10} {'seconds':>8} {'CPU s':>7} {'rows/s':>9} {'peak RSS':>9}", flush=True)
    for n in args.datasets or [100_000]:
        r = run(n, args)
        results.append(r)
        print(f"{n:>10,} {'store':>10} {r['store_mib']:>8.0f} MiB DuckDB file", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
