"""The database tests of tests/unit/plugins/module_utils/test_mvcdb.py, on real PostgreSQL 15 and MariaDB
servers (the ``db`` fixture of conftest.py), plus 20 concurrent registrations on each."""
from __future__ import annotations

import unit_tests  # pylint: disable=import-error  # this directory is on sys.path (conftest.py)

unit = unit_tests.load("test_mvcdb.py")
# The same test functions; pytest gives them this directory's ``db`` fixture (a database on each server).
globals().update(unit_tests.generic(unit))


def test_twenty_concurrent_registrations(db, db_url):
    outcomes = unit.concurrent_registrations(db, db_url[0], db_url[1], n=20)
    landed = [o for o in outcomes if o[2] == "ok"]
    # 24 vCPUs, ~3.5 per request: some land, some are refused for capacity or a taken name.
    assert landed and len(landed) < 20
    assert any("PlacementError" in o[3] for o in outcomes if o[2] == "error")


def test_password_is_required_and_never_shown(db_url):
    from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
    url, password = db_url
    bad = _mvcdb.Database(url, password="wrong-" + password)
    try:
        bad.migrate()
        raise AssertionError("a wrong password was accepted")
    except _mvcdb.DBError as exc:
        assert password not in str(exc) and "wrong-" not in str(exc)
    bad.dispose()


def test_concurrent_migrations_of_an_empty_database(db_url):
    unit.concurrent_migrations(db_url[0], db_url[1], n=6)
