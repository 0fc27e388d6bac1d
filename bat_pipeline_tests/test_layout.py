"""The package's shape: every module imports, few flat modules, none too long to read."""

import importlib
import pkgutil
from pathlib import Path

import pytest

import bat_pipeline

PACKAGE = Path(bat_pipeline.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(bat_pipeline.__path__, "bat_pipeline."))
#: the synthetic shop is one long simulation that reads best in one place
LONG_ALLOWED = {"data/synthetic.py"}


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name):
    importlib.import_module(name)


def test_at_most_eight_flat_modules():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= 8, flat


def test_no_module_over_400_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert set(long) <= LONG_ALLOWED, long
