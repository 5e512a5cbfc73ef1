"""The same file imported into two fresh stores gives the same leads under the same ids, whatever
the process' hash salt (PYTHONHASHSEED): nothing in the import may depend on Python's salted hash."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, sqlite_only

ROWS = 10_000  # enough rows for the first pass' bit array to see values that only look repeated
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "leadctl" / "default_rules"


@pytest.mark.slow
@sqlite_only
def test_lead_ids_do_not_depend_on_the_hash_salt(tmp_path):
    gen = SHARED_DATA / "gen_leads.py"
    if not gen.exists():
        pytest.skip("../shared/data/gen_leads.py is not present")
    leads = tmp_path / "leads.csv"
    with open(leads, "wb") as fh:
        subprocess.run([sys.executable, str(gen), str(ROWS)], stdout=fh, check=True, timeout=300)
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    dumps = []
    for salt in ("1", "2"):
        db = tmp_path / f"salt{salt}.db"
        env = {**os.environ, "LEADCTL_DB": str(db), "LEADCTL_RULES": str(rules), "PYTHONHASHSEED": salt}
        subprocess.run([sys.executable, "-m", "leadctl", "--now", "2026-06-01T10:00", "import", str(leads),
                        "--no-process", "--rejects", str(tmp_path / f"rejects{salt}.csv")],
                       env=env, check=True, timeout=600, capture_output=True)
        with sqlite3.connect(db) as conn:
            dumps.append(conn.execute("SELECT id, email, phone, first_name, last_name, company FROM leads "
                                      "ORDER BY id").fetchall())
    assert len(dumps[0]) > ROWS // 2
    assert dumps[0] == dumps[1]
