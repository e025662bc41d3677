"""The MVC database tests of tests/unit/plugins/module_utils that run on every backend: ``load(name)`` imports one
such file by path, and its GENERIC list names the test functions that the system tests here run again on real
PostgreSQL 15 and MariaDB servers (this directory's ``db`` fixture)."""
from __future__ import annotations

import importlib.util
import os

UNIT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "unit", "plugins", "module_utils")


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace(".py", "") + "_unit_tests", os.path.join(UNIT_DIR, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generic(module):
    """name -> test function of ``module``'s GENERIC list, to put into a test file's globals."""
    return dict((name, getattr(module, name)) for name in module.GENERIC)
