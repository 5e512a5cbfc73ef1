"""The public API listed in leadctl.__all__ resolves, lazily."""
import subprocess
import sys

import leadctl


def test_every_public_name_resolves():
    for name in leadctl.__all__:
        assert getattr(leadctl, name) is not None, name


def test_importing_leadctl_is_light():
    code = "import sys, leadctl; print('sqlalchemy' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
