"""The validation step: Great Expectations suites (``expectations/*.json``) run over staging batches.

Public API (see :mod:`inventory.quality.validate`):

- ``validate_batch(batch, *, build_docs=True, chunk_rows=100_000) -> dict`` validates one staging
  batch, writes ``validated/<table>.parquet`` and ``quarantine.parquet``, builds GX Data Docs and
  updates ``report.json``; returns a small JSON-able summary (safe for XCom).
- ``load_suite(name) -> great_expectations.ExpectationSuite`` reads ``expectations/<name>.json``;
  a malformed file raises :class:`SuiteError` naming the file and the expectation index.

Great Expectations takes seconds to import, so nothing here imports it until it is used: a DAG
file may import this package at parse time without paying for GX.
"""

from __future__ import annotations

from typing import Any

__all__ = ["validate_batch", "load_suite", "SuiteError", "ValidationError", "SEVERITIES"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import validate

        return getattr(validate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
