"""The server harness lives in scripts/stress.py (it is also the standalone load test)."""

import importlib.util
import sys
from pathlib import Path

import pytest

STRESS_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "stress.py"


@pytest.fixture(scope="session")
def stress():
    spec = importlib.util.spec_from_file_location("koppelkans_stress", STRESS_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
