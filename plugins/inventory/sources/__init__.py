"""The registry of source kinds: ``kind`` in sources.yaml -> the module that speaks it.

Adding a kind: one module here, one line below (see sources/base.py for what a module offers).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

KINDS: dict[str, str] = {
    "ckan": "inventory.sources.ckan",
    "algoritmeregister": "inventory.sources.algoritmeregister",
    "dcat": "inventory.sources.dcat",
    "csw": "inventory.sources.csw",
    "atrs": "inventory.sources.atrs",
    "omb-ai-inventory": "inventory.sources.omb_ai_inventory",
    "api-register": "inventory.sources.api_register",
}

# Which DAG harvests which kinds. The API register is a catalogue too: of data services (DCAT
# DataService, the access side of datasets), published on the same daily schedule and asset.
CATALOGUE_KINDS = frozenset({"ckan", "dcat", "csw", "api-register"})
ALGORITHM_REGISTER_KINDS = frozenset({"algoritmeregister", "atrs", "omb-ai-inventory"})


def module_for(kind: str) -> ModuleType:
    try:
        return import_module(KINDS[kind])
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}") from None
