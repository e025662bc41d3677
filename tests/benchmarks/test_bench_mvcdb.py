"""Benchmark: register a 10,000-node virtual cluster (validation, placement over 100 VM containers, MACs,
addresses, one transaction) on SQLite and on PostgreSQL, against a bare SQLAlchemy bulk insert of the same node
rows into the same schema, measured in the same run. Prints seconds and ratios; asserts only correctness."""
from __future__ import annotations

import os
import sys
import time

import pytest
import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system", "db"))
import dbservers  # noqa: E402  pylint: disable=wrong-import-position,import-error
sys.path.pop(0)

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import _now  # noqa: E402  pylint: disable=wrong-import-position

NODES = 10000
CONTAINERS = [{"inventory_hostname": "vm-container-%d-%d.%s" % (r, i, s), "mvc_site": s,
               "mvc_free": {"cpus": 128, "memory_mb": 1 << 20, "disk_gb": 100000}}
              for s in ("osaka", "sdsc") for r in range(2) for i in range(25)]
REQUEST = {"name": "big", "owner": "alice", "compute": {"count": NODES - 1, "vcpus": 1, "memory_mb": 256, "disk_gb": 2}}


@pytest.fixture(scope="module")
def pg_server():
    info = dbservers.acquire("postgresql")
    yield info
    dbservers.release("postgresql")


def _register(db):
    conts = m.normalize_containers(CONTAINERS)
    t0 = time.perf_counter()
    out = db.run(lambda conn: m.register(conn, REQUEST, conts))
    return time.perf_counter() - t0, out


def _bulk_baseline(db, nodes):
    """The same node rows, inserted with one executemany into the same (empty) schema."""
    with db.engine.begin() as conn:
        conn.execute(m.T_SITES.insert(), [{"id": 1, "name": "osaka"}])
        conn.execute(m.T_HOSTS.insert(), [{"id": 1, "name": "h", "site_id": 1, "cpus": 1, "memory_mb": 1, "disk_gb": 1}])
        conn.execute(m.T_CLUSTERS.insert(), [{"id": 1, "name": "big", "owner": "a", "community": "big", "n2n_key": "k",
                                              "request_json": "{}", "request_digest": "d", "status": "planned",
                                              "created_at": _now(), "updated_at": _now()}])
    rows = [{"cluster_id": 1, "name": n["name"], "role": n["role"], "idx": n["index"], "host_id": 1,
             "vcpus": n["vcpus"], "memory_mb": n["memory_mb"], "disk_gb": n["disk_gb"], "mac": n["mac"],
             "overlay_ip": n["overlay_ip"], "status": "planned"} for n in nodes]
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(m.T_NODES.insert(), rows)
    return time.perf_counter() - t0


def _check(db, out):
    plan = out["plan"]
    assert out["changed"] and len(plan["nodes"]) == NODES
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(m.T_NODES)).scalar() == NODES
        for col in (m.T_NODES.c.mac, m.T_NODES.c.overlay_ip):
            assert conn.execute(sa.select(sa.func.count(sa.distinct(col)))).scalar() == NODES


def _bench(label, make_db):
    db = make_db("reg")
    secs, out = _register(db)
    _check(db, out)
    t0 = time.perf_counter()
    again = db.run(lambda conn: m.register(conn, REQUEST))
    rerun = time.perf_counter() - t0
    assert not again["changed"]
    # What deploy_mvc does after its Dom0 plays: the key (read-only), then the nodes marked deployed, against
    # what it did before (the key and the mark each by a whole registration).
    t0 = time.perf_counter()
    key = db.run(lambda conn: m.read_key(conn, "big", None))
    mark = db.run(lambda conn: m.mark_deployed(conn, "big"))
    light = time.perf_counter() - t0
    assert mark["changed"] and key and set(n["status"] for n in mark["plan"]["nodes"]) == {"deployed"}
    status = dict((n["name"], "planned") for n in out["plan"]["nodes"])
    db.run(lambda conn: m.register(conn, REQUEST, node_status=status))
    t0 = time.perf_counter()
    db.run(lambda conn: m.register(conn, REQUEST, return_key=True))
    db.run(lambda conn: m.register(conn, REQUEST, node_status=dict.fromkeys(status, "deployed")))
    heavy = time.perf_counter() - t0
    base_db = make_db("base")
    base = _bulk_baseline(base_db, out["plan"]["nodes"])
    db.dispose()
    base_db.dispose()
    print("\n[bench mvcdb] %s: register %d nodes %.2fs, unchanged re-run %.2fs; bare bulk insert %.2fs; "
          "register/bulk = %.1f, re-run/bulk = %.1f" % (label, NODES, secs, rerun, base, secs / base, rerun / base))
    print("[bench mvcdb] %s: key read + mark deployed %.2fs, against two registrations doing the same %.2fs "
          "(%.1f times as long)" % (label, light, heavy, heavy / light))


def test_register_10000_nodes_sqlite(tmp_path):
    def make(name):
        d = m.Database(str(tmp_path / ("%s.sqlite" % name)))
        d.migrate()
        return d
    _bench("SQLite", make)


def test_register_10000_nodes_postgresql(pg_server):
    made = []

    def make(name):
        made.append("bench_%s" % name)
        d = m.Database(dbservers.create_database(pg_server, made[-1]), pg_server["password"])
        d.migrate()
        return d
    try:
        _bench("PostgreSQL", make)
    finally:
        for name in made:
            dbservers.drop_database(pg_server, name)
