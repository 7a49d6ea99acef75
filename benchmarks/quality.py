"""Benchmark: the MQA score and the scorecards of a large inventory.

    python benchmarks/quality.py                          # 1,000,000 datasets, 500 publishers
    python benchmarks/quality.py --datasets 100000 --publishers 100 --no-scorecards

An inventory of N datasets (2-3 distributions each, a mix of filled and missing fields, formats,
licence spellings and access-rights words) is generated straight into an empty DuckDB store by SQL
(the harvest is measured by ``benchmarks/harvest.py``); then it times ``score`` (every dataset's 24
metrics, the aggregates per source and publisher) and ``write_scorecards`` (the overview and one page
per publisher with three charts), and prints seconds and the peak RSS of the process. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=1_000_000)
    parser.add_argument("--publishers", type=int, default=500)
    parser.add_argument("--no-scorecards", action="store_true")
    args = parser.parse_args()
    os.environ["INVENTORY_DATA_DIR"] = tempfile.mkdtemp(prefix="inventory-quality-bench-")

    from inventory.publish import open_store
    from inventory.quality import scorecards
    from inventory.quality import score as mqa

    n, publishers = args.datasets, args.publishers
    with open_store("duckdb") as st:
        st.ensure_schema()
        started = time.monotonic()
        st.execute(f"""INSERT INTO datasets (dataset_uid, title, publisher, source_id, keyword, theme, spatial, issued,
              access_rights, contact_point, license)
            SELECT md5(i::VARCHAR), 'Dataset ' || i, 'Publisher ' || (i % {publishers}), 'source-' || (i % 7),
              CASE WHEN i % 3 = 0 THEN ['water', 'lucht'] ELSE [] END, ['http://standaarden.overheid.nl/owms/terms/Bestuur'],
              CASE WHEN i % 2 = 0 THEN 'Utrecht' END, '2020-01-01',
              CASE WHEN i % 4 = 0 THEN 'publiek' ELSE 'http://publications.europa.eu/resource/authority/access-right/PUBLIC' END,
              CASE WHEN i % 5 < 3 THEN 'data@example.nl' END, 'cc-by'
            FROM range({n}) t(i)""")
        st.execute(f"""INSERT INTO distributions (distribution_uid, dataset_uid, access_url, download_url, format,
              media_type, byte_size, source_id)
            SELECT md5(i::VARCHAR || '-' || j), md5(i::VARCHAR), 'https://host' || (i % 100) || '.example.nl/' || i || '/' || j,
              CASE WHEN j = 0 THEN 'https://host.example.nl/d/' || i END, (['CSV', 'XLS', 'PDF', 'json'])[j + 1],
              CASE WHEN j = 1 THEN 'text/csv' END, 100, 'source-' || (i % 7)
            FROM range({n}) t(i), range(0, 2 + (i % 2)::INTEGER) u(j)""")
        print(f"generated {n:,} datasets in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        result = mqa.score(st, publish_id="benchmark")
        print(f"score: {time.monotonic() - started:.1f} s for {result['datasets']:,} datasets "
              f"(average {result['average']})", flush=True)
        if not args.no_scorecards:
            started = time.monotonic()
            cards = scorecards.write_scorecards(st)
            print(f"scorecards: {time.monotonic() - started:.1f} s for the overview and {cards['publishers']} "
                  "publisher pages", flush=True)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")


if __name__ == "__main__":
    main()
