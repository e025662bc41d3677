# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data and helpers shared by the MVC database tests: four VM containers over two sites, a small request, and
register() on a Database. Imported by path-loaded test files too (tests/system/db), hence a module of its own."""
from __future__ import annotations

import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m

# As the deploy playbook gives them to cmc.mvc.vcluster: two Dom0s at each of two sites.
CONTAINERS = [{"inventory_hostname": "vm-container-0-%d.%s" % (i, s), "mvc_site": s,
               "mvc_free": {"cpus": 8, "memory_mb": 8192, "disk_gb": 100}} for s in ("osaka", "sdsc") for i in range(2)]
REQUEST = {"name": "lab1", "owner": "alice", "compute": {"count": 2}}


def containers():
    return m.normalize_containers([dict(c) for c in CONTAINERS])


def request(name="lab1", count=2):
    return dict(REQUEST, name=name, compute={"count": count})


def register(db, req, conts=None, passphrase=None, **kw):
    return db.run(lambda conn: m.register(conn, req, conts, cipher=m.key_cipher(passphrase), **kw))


def dump(db, tables=None):
    """Every row of ``tables`` (default: those of schema version 1), by SQL text, so that a database of an earlier
    schema version is read as well."""
    with db.engine.connect() as conn:
        return dict((t.name, sorted(tuple(str(v) for v in r) for r in conn.execute(sa.text("SELECT * FROM %s" % t.name))))
                    for t in (m.V1_TABLES if tables is None else tables))


def read(db, fn):
    """``fn(conn)`` through the read path of vcluster_info and the inventory (MVCDBClient.read: read-only, never
    migrates)."""
    with m.MVCDBClient(db.url.render_as_string(hide_password=False)) as client:
        return client.read(fn)
