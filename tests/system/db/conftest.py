"""Real PostgreSQL and MariaDB servers for the MVC database tests (started once per session, see dbservers)."""
from __future__ import annotations

import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import dbservers  # noqa: E402  pylint: disable=wrong-import-position,import-error

_names = itertools.count()


@pytest.fixture(scope="session")
def postgresql_server():
    info = dbservers.acquire("postgresql")
    yield info
    dbservers.release("postgresql")


@pytest.fixture(scope="session")
def mariadb_server():
    info = dbservers.acquire("mariadb")
    yield info
    dbservers.release("mariadb")


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request):
    return request.getfixturevalue(request.param + "_server")


@pytest.fixture
def db_url(server):
    """A fresh, empty database on the server: (URL without password, password)."""
    name = "mvc_test_%d_%d" % (os.getpid(), next(_names))
    url = dbservers.create_database(server, name)
    yield url, server["password"]
    dbservers.drop_database(server, name)


@pytest.fixture
def db(db_url):
    from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb
    d = _mvcdb.Database(db_url[0], password=db_url[1])
    d.migrate()
    yield d
    d.dispose()
