"""One run of the installed `leadctl` command, as a user (or cron) runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES, PG_URL


def run(args, cwd, **env):
    exe = Path(sys.executable).with_name("leadctl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "leadctl"]
    return subprocess.run(cmd + args, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "LEADCTL_NOW": "2026-11-20T10:00", **env}, timeout=300)


def test_installed_command_end_to_end(tmp_path, db_url):
    env = {"LEADCTL_DB": db_url if PG_URL else str(tmp_path / "leadctl.db")}
    assert run(["init"], tmp_path, **env).returncode == 0
    assert (tmp_path / "rules" / "scoring.yaml").exists()
    r = run(["import", str(EXAMPLES / "hubspot_contacts.csv"), "--output-format", "json",
             "--rejects", str(tmp_path / "rej.csv")], tmp_path, **env)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["read"] == sum(summary[k] for k in ("created", "updated", "merged", "unchanged", "rejected"))
    r = run(["leads", "list", "--format", "json", "--limit", "5"], tmp_path, **env)
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 5
    # Errors: one line, right exit codes, no traceback.
    r = run(["import", str(tmp_path / "missing.csv")], tmp_path, **env)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    r = run(["leads", "stage", "1", "no-such-stage"], tmp_path, **env)
    assert r.returncode == 2, r.stderr
    r = run(["import"], tmp_path, **env)
    assert r.returncode == 2


def test_version_and_module_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "leadctl", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("leadctl ")
