"""The sample agencies: a local HTTP server that speaks the real protocols of the sources the
inventory harvests (CKAN Action API, the Algoritmeregister API) over the project's own fixtures.

``fixtures/`` is written by :mod:`inventory.demo.make_fixtures` (deterministic, committed);
:mod:`inventory.demo.sample_agencies` serves it; :mod:`inventory.demo.generated` makes any number
of synthetic CKAN packages on the fly for the benchmark.
"""

from __future__ import annotations

__all__ = ["SampleAgencies"]


def __getattr__(name: str):  # lazy, so `python -m inventory.demo.make_fixtures` imports nothing else
    if name == "SampleAgencies":
        from .sample_agencies import SampleAgencies

        return SampleAgencies
    raise AttributeError(name)
