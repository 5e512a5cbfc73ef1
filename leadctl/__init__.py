"""leadctl — lead management from the command line: rules as code, fast, every decision explained.

The public API is listed in `__all__`; names are imported lazily so that
`leadctl --help` does not pay for SQLAlchemy, pydantic and friends.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    # errors
    "LeadctlError": "leadctl.errors",
    "InputError": "leadctl.errors",
    "RulesError": "leadctl.errors",
    "StoreError": "leadctl.errors",
    "UsageError": "leadctl.errors",
    "NotFoundError": "leadctl.errors",
    # store and rules
    "open_store": "leadctl.store.db",
    "Store": "leadctl.store.db",
    "init_project": "leadctl.setup",
    "load_rules": "leadctl.rules.loader",
    "RuleSet": "leadctl.rules.loader",
    # import
    "import_leads": "leadctl.ingest.importer",
    "ImportOptions": "leadctl.ingest.importer",
    "ImportResult": "leadctl.ingest.importer",
    "undo_batch": "leadctl.ingest.batches",
    "list_batches": "leadctl.ingest.batches",
    "import_activities": "leadctl.ingest.activities",
    "log_activity": "leadctl.ingest.activities",
    # rules applied
    "process_leads": "leadctl.engine.process",
    "explain_lead": "leadctl.engine.explain",
    "diff_rules": "leadctl.engine.diff",
    "set_stage": "leadctl.engine.stages",
    "assign_lead": "leadctl.engine.routing",
    "check_sla": "leadctl.engine.sla",
    # one lead
    "resolve_lead": "leadctl.engine.leadref",
    "show_lead": "leadctl.engine.leadops",
    "merge_leads": "leadctl.engine.leadops",
    "forget_lead": "leadctl.engine.leadops",
    # follow-ups
    "due_tasks": "leadctl.engine.followups",
    "remind": "leadctl.engine.remind",
    # reports and export
    "LeadFilter": "leadctl.engine.leadquery",
    "funnel_report": "leadctl.reports.funnel",
    "sources_report": "leadctl.reports.sources",
    "owners_report": "leadctl.reports.owners",
    "scoring_report": "leadctl.reports.scoring",
    "export_leads": "leadctl.export",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'leadctl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
