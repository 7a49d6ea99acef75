"""``inventory``: the command line over the same functions the Airflow tasks call.

    inventory sources                 check the sources file and list the sources
    inventory harvest SOURCE_ID       harvest and validate one source (staging only)
    inventory publish                 publish every validated batch to the store and exports
    inventory run                     all of it for every source; exit 1 naming failed/partial sources
    inventory summary                 what the store holds now, per source
    inventory quality [--rescore]     MQA score per source (average and rating) of the last scoring
    inventory release SOURCE RUN_ID   publish a run held for review (its withdrawals are real)
    inventory export                  write a fresh export release of the store, every file anew

Progress bars show on a terminal (stderr) and stay silent in logs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from tqdm import tqdm

from . import pipeline, settings
from .config import SourceConfig, SourcesConfigError, get_source, load_sources
from .harvest import HarvestFailed
from .staging import safe_name, utcnow


def _progress(source: SourceConfig):
    bar = tqdm(desc=f"{source.id:<24}", unit=" records", file=sys.stderr, disable=None, leave=True, dynamic_ncols=True)

    def update(pages: int, received: int, reported: int | None) -> None:
        if reported is not None and bar.total != reported:
            bar.total = reported
        bar.n = received
        bar.set_postfix_str(f"page {pages}", refresh=False)
        bar.refresh()

    return update


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[("" if r.get(key) is None else str(r.get(key))) for key, _ in columns] for r in rows]
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title) in enumerate(columns)]
    line = "  ".join(title.ljust(w) for (_, title), w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c[i].ljust(widths[i]) for i in range(len(columns))) for c in cells]
    return "\n".join(out)


SUMMARY_COLUMNS = [
    ("source_id", "source"),
    ("kind", "kind"),
    ("status", "last run"),
    ("records_reported", "reported"),
    ("records_received", "received"),
    ("records_quarantined", "quarantined"),
    ("datasets", "datasets"),
    ("distributions", "distributions"),
    ("data_services", "data services"),
    ("algorithms", "algorithms"),
    ("changes", "added/changed/removed"),
    ("unmatched_organizations", "unmatched orgs"),
]


def print_summary(out=None) -> list[dict[str, Any]]:
    """Per source: the last run's outcome and what the store holds now."""
    from .publish import read_summary

    out = out or sys.stdout
    rows = read_summary()
    if not rows:
        print("The inventory is empty: nothing has been published yet.", file=out)
        return rows
    shown = [
        {**r, **(r.get("records") or {}), "changes": f"{r.get('added') or 0}/{r.get('changed') or 0}/{r.get('removed') or 0}"}
        for r in rows
    ]
    print(_table(shown, SUMMARY_COLUMNS), file=out)
    for r in rows:
        if r.get("status") != "complete" and r.get("message"):
            print(f"  {r['source_id']}: {r['message']}", file=out)
    print_unmatched_organizations(out)
    return rows


QUALITY_COLUMNS = [("source_id", "source"), ("datasets", "datasets"), ("average", "average score (of 405)"),
                   ("rating", "rating")]


def print_quality(quality: dict[str, Any], out=None) -> None:
    """The average MQA score and rating per source and for the whole inventory."""
    out = out or sys.stdout
    if not quality.get("sources"):
        print("No quality scores yet: nothing has been scored.", file=out)
        return
    rows = [{"source_id": s, **v} for s, v in sorted(quality["sources"].items())]
    rows.append({"source_id": "(all datasets)", "datasets": quality.get("datasets"),
                 "average": quality.get("average"), "rating": quality.get("rating")})
    print(_table(rows, QUALITY_COLUMNS), file=out)


def print_unmatched_organizations(out=None, shown: int = 10) -> None:
    """The publisher/organisation names no entry of config/organizations.yaml matched, most records first."""
    from . import organizations

    out = out or sys.stdout
    unmatched = sorted(organizations.read_report(), key=lambda r: (-r["records"], r["source_id"], r["name"] or ""))
    if not unmatched:
        return
    print(f"\n{len(unmatched)} organisation name(s) are not in {organizations.organizations_file().name} "
          f"(add them as aliases or entries): {organizations.report_path()}", file=out)
    for r in unmatched[:shown]:
        uri = f" <{r['uri']}>" if r.get("uri") else ""
        print(f"  {r['source_id']}: {r['name'] or '(no name)'}{uri}  ({r['records']} records)", file=out)
    if len(unmatched) > shown:
        print(f"  ... and {len(unmatched) - shown} more in the report", file=out)


def cmd_sources(args: argparse.Namespace) -> int:
    sources = load_sources(include_disabled=True)
    print(f"Sources file: {settings.sources_file()}")
    print(_table([s.model_dump() for s in sources], [("id", "id"), ("kind", "kind"), ("enabled", "enabled"), ("url", "url")]))
    return 0


def cmd_harvest(args: argparse.Namespace) -> int:
    source = get_source(args.source_id)
    run_id = args.run_id or _run_id()
    try:
        result = pipeline.harvest(source.id, run_id, source=source, progress=_progress(source))
    except HarvestFailed as exc:
        result = pipeline.summarise(exc.report)
    validated = pipeline.validate(source.id, run_id)
    print(f"{source.id}: {validated['status']} - {validated['message']}")
    print(f"  valid {validated.get('records_valid')}, quarantined {validated.get('records_quarantined')}; batch {result['batch_path']}")
    return 0 if validated["status"] == "complete" else 1


def cmd_publish(args: argparse.Namespace) -> int:
    summary = pipeline.publish()
    pipeline.check_links()
    pipeline.check_conformance()
    quality = pipeline.score_quality(summary.get("publish_id"))
    cards = pipeline.write_scorecards()
    print(f"Published to {_where(summary)}; exports in {summary['exports']['path']}")
    print_summary()
    print("\nMetadata quality (EU MQA, 405 points):")
    print_quality(quality)
    print(f"Scorecards: {cards.get('overview')}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    run_id = args.run_id or _run_id()
    reports, summary = pipeline.run_all(run_id, progress_for=_progress)
    print()
    print(f"Run {run_id}: published to {_where(summary)}")
    print_summary()
    print("\nMetadata quality (EU MQA, 405 points):")
    print_quality(summary.get("quality") or {})
    print(f"\nExports:   {summary['exports']['path']} (Parquet and CSV per table)")
    print(f"Scorecards: {(summary.get('scorecards') or {}).get('overview')}")
    print(f"Data Docs: {settings.data_docs_dir() / 'index.html'}")
    bad = pipeline.problems(reports)
    held = pipeline.held_sources(summary)
    if bad:
        print("\nNot every source was harvested completely (their previous records are kept):", file=sys.stderr)
        for line in bad:
            print(f"  - {line}", file=sys.stderr)
    if held:
        print("\nHeld for review (nothing of these sources was published):", file=sys.stderr)
        for line in held:
            print(f"  - {line}", file=sys.stderr)
    if bad or held:
        from . import notify

        try:
            notify.send_alert(f"run {run_id}: {len(bad)} source(s) not complete, {len(held)} held for review",
                              "\n".join([f"Run {run_id} of the inventory:", ""] + [f"- {line}" for line in bad + held]))
        except Exception as exc:  # the run's outcome is printed above either way
            print(f"error: the alert could not be sent: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Every export file written anew from the store, the catalogue included (a publish links the
    previous catalogue's pages while its records are unchanged): for after a suspect file, say."""
    from pathlib import Path

    from .publish import export, exports

    release = export()
    # this release's own manifest: ``latest`` may already point at a newer one
    catalogue = (exports.read_manifest(Path(release)) or {}).get("catalog") or {}
    pages = int(catalogue.get("pages") or 0)
    print(f"Exports written anew: {release} (latest: {exports.latest_link()}); "
          f"catalogue: {catalogue.get('datasets', 0)} datasets in {pages} page{'' if pages == 1 else 's'}")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .publish import ReleaseError

    try:
        summary = pipeline.release(args.source_id, args.run_id, by=args.by)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    info = (summary.get("sources") or {}).get(args.source_id) or {}
    print(f"{args.source_id}: {info.get('message')}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    print_summary()
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    if args.rescore:
        print_quality(pipeline.score_quality())
        pipeline.write_scorecards()
    else:
        print_quality(pipeline.quality_summary())
    overview = settings.reports_dir() / "scorecards" / "index.html"
    print(f"Scorecards: {overview if overview.exists() else '(none written yet)'}")
    return 0


def _where(summary: dict[str, Any]) -> str:
    store = summary.get("store") or {}
    return f"{store.get('kind')} {store.get('location')}"


def _run_id() -> str:
    return safe_name(f"cli__{utcnow().strftime('%Y-%m-%dT%H%M%S')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventory", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each step does")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sources", help="check the sources file and list the sources").set_defaults(func=cmd_sources)
    p = sub.add_parser("harvest", help="harvest and validate one source")
    p.add_argument("source_id")
    p.add_argument("--run-id")
    p.set_defaults(func=cmd_harvest)
    sub.add_parser("publish", help="publish every validated batch").set_defaults(func=cmd_publish)
    p = sub.add_parser("run", help="harvest, validate and publish every source")
    p.add_argument("--run-id")
    p.set_defaults(func=cmd_run)
    sub.add_parser("summary", help="what the store holds, per source").set_defaults(func=cmd_summary)
    p = sub.add_parser("quality", help="average MQA score and rating per source")
    p.add_argument("--rescore", action="store_true", help="score the published inventory again first")
    p.set_defaults(func=cmd_quality)
    p = sub.add_parser("release", help="publish a run that was held for review (a steward's decision)")
    p.add_argument("source_id")
    p.add_argument("run_id", help="the run id as harvest_runs shows it (or its staging folder name)")
    p.add_argument("--by", help="who releases it (default: $USER), recorded in harvest_runs")
    p.set_defaults(func=cmd_release)
    sub.add_parser("export", help="write a fresh export release of the store, every file anew").set_defaults(
        func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except SourcesConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
