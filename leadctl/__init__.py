"""leadctl — lead management from the command line: rules as code, fast, every decision explained.

The public API is listed in `__all__`; names are imported lazily so that
`leadctl --help` does not pay for SQLAlchemy, pydantic and friends.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "LeadctlError": "leadctl.errors",
    "InputError": "leadctl.errors",
    "RulesError": "leadctl.errors",
    "StoreError": "leadctl.errors",
    "UsageError": "leadctl.errors",
    "NotFoundError": "leadctl.errors",
    "open_store": "leadctl.store.db",
    "Store": "leadctl.store.db",
    "load_rules": "leadctl.rules.loader",
    "import_leads": "leadctl.ingest.importer",
    "ImportOptions": "leadctl.ingest.importer",
    "ImportResult": "leadctl.ingest.importer",
    "undo_batch": "leadctl.ingest.batches",
    "process_leads": "leadctl.engine.process",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'leadctl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
