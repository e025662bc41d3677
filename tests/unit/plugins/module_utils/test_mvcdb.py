# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MVC database on SQLite. tests/system/db/ runs the tests listed in GENERIC against real PostgreSQL and
MariaDB servers, through the ``db`` and ``db_url`` fixtures it defines there."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat

import netaddr
import pytest
import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m
from ansible_collections.cmc.mvc.plugins.module_utils import _placement, _request
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError


def containers(sites=("osaka", "sdsc"), per_site=2, cpus=8, memory_mb=8192, disk_gb=100):
    """VM containers as the cmc.mvc.rocks inventory gives their hostvars."""
    return [{"inventory_hostname": "vm-container-0-%d.%s" % (i, s), "mvc_site": s, "mvc_appliance": "vm-container",
             "mvc_rocks_name": "vm-container-0-%d" % i, "mvc_private_ip": "10.1.255.%d" % (250 - i),
             "mvc_cpus": cpus, "mvc_free": {"cpus": cpus, "memory_mb": memory_mb, "disk_gb": disk_gb}}
            for s in sites for i in range(per_site)]


def request(name="lab1", count=4, **kw):
    compute = {"count": count, "vcpus": 1, "memory_mb": 256, "disk_gb": 2}
    req = {"name": name, "owner": kw.pop("owner", "alice"), "compute": compute}
    req.update(kw)
    return req


def register(db, req, conts=None, check_mode=False, **kw):
    conts = m.normalize_containers(conts) if conts is not None else None
    return db.run(lambda conn: m.register(conn, req, conts, **kw), check_mode=check_mode)


def snapshot(db):
    """Everything in the database: the file's bytes on SQLite, every row of every table on a server."""
    if db.backend == "sqlite":
        with open(db.url.database, "rb") as f:
            data = f.read()
        return data, sorted(p for p in os.listdir(os.path.dirname(db.url.database)))
    out = {}
    with db.engine.connect() as conn:
        for table in m.metadata.sorted_tables:
            out[table.name] = sorted(tuple(str(v) for v in r) for r in conn.execute(sa.select(table)))
    return out


def rows(db, table):
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


# --- tests that run on every backend ------------------------------------------------------------------


def test_migrate_records_the_version_and_is_idempotent(db):
    assert db.current_version() == m.SCHEMA_VERSION
    assert db.migrate() == (m.SCHEMA_VERSION, m.SCHEMA_VERSION)
    assert rows(db, m.T_META) == [{"id": 1, "schema_version": m.SCHEMA_VERSION}]
    assert set(sa.inspect(db.engine).get_table_names()) >= set(t.name for t in m.V1_TABLES)


def test_a_newer_schema_is_refused(db):
    with db.engine.begin() as conn:
        conn.execute(m.T_META.update().values(schema_version=m.SCHEMA_VERSION + 1))
    with pytest.raises(m.DBError, match="schema version %d; this collection knows up to %d"
                       % (m.SCHEMA_VERSION + 1, m.SCHEMA_VERSION)):
        db.migrate()


def test_register_returns_a_plan_ready_for_deploy(db):
    out = register(db, request(count=4, packages=["openmpi-bin"]), containers(), return_key=True)
    assert out["changed"]
    plan = out["plan"]
    c = plan["cluster"]
    assert c["name"] == "lab1" and c["owner"] == "alice" and c["bridge"] == "mvc-lab1" and c["community"] == "lab1"
    assert c["subnet"] == "10.200.0.0/24" and c["packages"] == ["openmpi-bin"] and c["os"] == "debian-12"
    assert len(plan["n2n_key"]) >= 32
    names = [n["name"] for n in plan["nodes"]]
    assert names == ["lab1-frontend"] + ["lab1-compute-%d" % i for i in range(4)]
    net = netaddr.IPNetwork(c["subnet"])
    for n in plan["nodes"]:
        assert set(n) >= {"name", "role", "site", "dom0", "mac", "overlay_ip", "overlay_prefix", "vcpus", "memory_mb",
                          "disk_gb"}
        assert n["mac"].startswith("00:16:3e:") and netaddr.IPAddress(n["overlay_ip"]) in net
        assert n["overlay_prefix"] == 24 and n["dom0"].startswith("vm-container-0-")
    assert plan["nodes"][0]["overlay_ip"] == "10.200.0.1"
    # Spread: 5 nodes over 2 sites of 2 hosts.
    sites = [n["site"] for n in plan["nodes"]]
    assert abs(sites.count("osaka") - sites.count("sdsc")) <= 1
    edges = plan["edges"]
    assert sorted(e["dom0"] for e in edges) == sorted(set(n["dom0"] for n in plan["nodes"]))
    assert not set(e["overlay_ip"] for e in edges) & set(n["overlay_ip"] for n in plan["nodes"])
    assert "n2n_key" not in json.dumps(out["after"]) and plan["n2n_key"] not in json.dumps(out["after"])


def test_rerun_with_the_same_request_changes_nothing(db):
    first = register(db, request(), containers())
    before = snapshot(db)
    again = register(db, request(), containers())
    assert not again["changed"]
    assert again["plan"] == first["plan"]
    assert snapshot(db) == before


def test_check_mode_shows_the_plan_and_writes_nothing(db):
    before = snapshot(db)
    out = register(db, request(), containers(), check_mode=True)
    assert out["changed"] and len(out["plan"]["nodes"]) == 5
    assert snapshot(db) == before


def test_growing_and_shrinking_change_only_what_must(db):
    first = register(db, request(count=4), containers())["plan"]
    grown = register(db, request(count=6), containers())
    assert grown["changed"]
    old = dict((n["name"], n) for n in first["nodes"])
    for n in grown["plan"]["nodes"]:
        if n["name"] in old:
            assert n == old[n["name"]]
    assert len(grown["plan"]["nodes"]) == 7
    shrunk = register(db, request(count=2), containers())["plan"]
    assert [n["name"] for n in shrunk["nodes"]] == ["lab1-frontend", "lab1-compute-0", "lab1-compute-1"]
    for n in shrunk["nodes"]:
        assert n == old[n["name"]]
    assert shrunk["cluster"]["subnet"] == first["cluster"]["subnet"]
    assert len(rows(db, m.T_NODES)) == 3
    # Edges left only on the Dom0s still used.
    assert sorted(e["dom0"] for e in shrunk["edges"]) == sorted(set(n["dom0"] for n in shrunk["nodes"]))


def test_other_clusters_capacity_is_taken_into_account(db):
    conts = containers(per_site=1, cpus=4)  # 8 vCPUs in all
    register(db, request("one", count=3), conts)  # 4 vCPUs
    with pytest.raises(_placement.PlacementError) as err:
        register(db, request("two", count=4), conts)  # 5 more
    assert "short of 1 vCPUs (need 5, free 4)" in str(err.value) and "osaka, sdsc" in str(err.value)
    out = register(db, request("two", count=3), conts)
    assert out["changed"]
    used = {}
    for n in rows(db, m.T_NODES):
        used[n["host_id"]] = used.get(n["host_id"], 0) + n["vcpus"]
    assert sorted(used.values()) == [4, 4]


def test_absent_frees_everything(db):
    one = register(db, request("one", count=2), containers())["plan"]
    register(db, request("two", count=2), containers())
    removed = db.run(lambda conn: m.unregister(conn, "one"))
    assert removed["cluster"]["name"] == "one" and "n2n_key" not in removed
    assert db.run(lambda conn: m.unregister(conn, "one")) is None
    assert len(rows(db, m.T_CLUSTERS)) == 1 and len(rows(db, m.T_SUBNETS)) == 1
    assert len(rows(db, m.T_NODES)) == 3 and len(rows(db, m.T_EDGES)) == len(set(r["host_id"] for r in rows(db, m.T_NODES)))
    assert len(rows(db, m.T_ADDRESSES)) == 3 + len(rows(db, m.T_EDGES))
    three = register(db, request("three", count=2), containers())["plan"]
    assert three["cluster"]["subnet"] == one["cluster"]["subnet"]  # the first free block again


def test_pool_allocation_avoids_user_subnets_and_user_subnets_cannot_overlap(db):
    register(db, request("one", count=1, overlay={"subnet": "10.200.0.0/23"}), containers())
    two = register(db, request("two", count=1), containers())["plan"]
    assert two["cluster"]["subnet"] == "10.200.2.0/24"
    with pytest.raises(_request.RequestError, match=r"vcluster.overlay.subnet: 10.200.2.128/25 overlaps 10.200.2.0/24"):
        register(db, request("three", count=1, overlay={"subnet": "10.200.2.128/25"}), containers())
    big = register(db, request("big", count=300, compute={"count": 300, "vcpus": 1, "memory_mb": 32, "disk_gb": 1}),
                   containers(cpus=200, memory_mb=1 << 20, disk_gb=10000))["plan"]
    assert big["cluster"]["subnet"] == "10.200.4.0/23" and big["nodes"][-1]["overlay_ip"] == "10.200.5.45"


def test_no_vm_containers_known(db):
    with pytest.raises(m.InputError, match="^vm_containers: no VM container is known yet"):
        register(db, request())


def test_a_full_subnet_reuses_addresses_without_clashes(db):
    # /29 holds 6 addresses: nodes count up from the bottom, edges down from the top.
    conts = containers(sites=("osaka", "sdsc", "tokyo"), per_site=1)
    net = {"subnet": "10.210.0.0/29"}
    first = register(db, request(count=2, overlay=net, placement={"osaka": 1, "sdsc": 1},
                                 frontend={"site": "tokyo"}), conts)["plan"]
    assert [e["overlay_ip"] for e in first["edges"]] == ["10.210.0.6", "10.210.0.5", "10.210.0.4"]
    # Everything on tokyo now: compute-2 needs .4, which tokyo's edge had; the edge moves, the nodes stay.
    plan = register(db, request(count=4, overlay=net, placement={"tokyo": 4}, frontend={"site": "tokyo"}), conts)["plan"]
    ips = [n["overlay_ip"] for n in plan["nodes"]] + [e["overlay_ip"] for e in plan["edges"]]
    assert len(ips) == len(set(ips)) == 6 and plan["edges"][0]["overlay_ip"] == "10.210.0.6"
    assert sorted(r["ip"] for r in rows(db, m.T_ADDRESSES)) == sorted(ips)


def test_node_and_edge_addresses_are_unique_together_in_the_database(db):
    plan = register(db, request(count=1), containers())["plan"]
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(m.T_ADDRESSES.insert().values(cluster_id=1, ip=plan["nodes"][0]["overlay_ip"]))


def test_node_status_is_recorded(db):
    register(db, request(count=1), containers())
    out = register(db, request(count=1), node_status={"lab1-frontend": "deployed", "lab1-compute-0": "deployed"})
    assert out["changed"] and out["plan"]["cluster"]["status"] == "deployed"
    assert not register(db, request(count=1))["changed"]
    out = register(db, request(count=1), node_status={"lab1-compute-0": "failed"})
    assert out["plan"]["cluster"]["status"] == "failed"
    with pytest.raises(m.InputError, match="node_status.lab1-compute-7: no such node"):
        register(db, request(count=1), node_status={"lab1-compute-7": "deployed"})


BAD = [
    ("bad name", request(name="Lab_1"), "vcluster.name", "must match"),
    ("malformed CIDR", request(overlay={"subnet": "10.200.300.0/24"}), "vcluster.overlay.subnet", "not a valid IPv4 CIDR"),
    ("CIDR with host bits", request(overlay={"subnet": "10.200.0.1/24"}), "vcluster.overlay.subnet", "host bits"),
    ("overlapping CIDR", request(name="other", overlay={"subnet": "10.200.0.0/16"}), "vcluster.overlay.subnet",
     "overlaps 10.200.0.0/24"),
    ("subnet too small", request(name="other", count=4, overlay={"subnet": "10.201.0.0/29"}), "vcluster.overlay.subnet",
     "holds 6 addresses; the cluster needs 9 (5 nodes and 4 N2N edges"),
    ("zero size", request(name="other", compute={"count": 1, "vcpus": 0}), "vcluster.compute.vcpus", ">= 1, got 0"),
    ("negative count", request(name="other", count=-1), "vcluster.compute.count", "must be an integer >= 0, got -1"),
    ("negative memory", request(name="other", frontend={"memory_mb": -512}), "vcluster.frontend.memory_mb", ">= 32"),
    ("unknown site", request(name="other", sites=["osaka", "mars"]), "vcluster.sites[1]", "unknown site 'mars'"),
    ("unknown site in placement", request(name="other", count=2, placement={"mars": 2}), "vcluster.placement.mars",
     "unknown site"),
    ("unknown placement", request(name="other", placement="random"), "vcluster.placement", "spread, pack or a mapping"),
    ("duplicate name", request(name="lab1", owner="mallory"), "vcluster.name", "already exists, owned by alice"),
    ("larger than capacity", request(name="other", count=40), "vcluster.compute.count", "at site(s) osaka, sdsc, tokyo: short of 10 vCPUs (need 41, free 31)"),
    ("per-site count over capacity", request(name="other", count=20, placement={"osaka": 18, "sdsc": 2}),
     "vcluster.placement.osaka", "at site(s) osaka: short of 3 vCPUs"),
    ("subnet change of a registered cluster", request(name="lab1", overlay={"subnet": "10.201.0.0/24"}),
     "vcluster.overlay.subnet", "remove it (state=absent) to change"),
]


@pytest.mark.parametrize("label, req, field, text", BAD, ids=[b[0] for b in BAD])
def test_refusals_name_the_field_and_leave_the_database_unchanged(db, label, req, field, text):
    register(db, request("lab1", count=0), containers(cpus=8))  # 32 vCPUs in all; lab1 takes 1
    before = snapshot(db)
    # Containers with new capacity: the refused run must not even store them.
    with pytest.raises(FieldError) as err:  # RequestError, InputError, AddressingError, PlacementError
        register(db, req, containers(cpus=8, sites=("osaka", "sdsc")) + containers(sites=("tokyo",), per_site=1, cpus=0))
    assert err.value.field == field, str(err.value)
    assert str(err.value).startswith(field + ": ") and text in str(err.value), str(err.value)
    assert snapshot(db) == before


@pytest.mark.parametrize("table, column", [
    ("mvc_clusters", "name"), ("mvc_clusters", "community"), ("mvc_nodes", "name"), ("mvc_nodes", "mac"),
    ("mvc_nodes", "overlay_ip"), ("mvc_overlay_subnets", "subnet"), ("mvc_edges", "overlay_ip"),
    ("mvc_overlay_addresses", "ip")])
def test_uniqueness_is_enforced_by_the_database(db, table, column):
    register(db, request("one", count=1), containers())
    register(db, request("two", count=1), containers())
    t = m.metadata.tables[table]
    with db.engine.connect() as conn:
        first = dict(conn.execute(sa.select(t).order_by(t.c.id)).mappings().first())
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            second_id = conn.execute(sa.select(sa.func.max(t.c.id))).scalar()
            conn.execute(t.update().where(t.c.id == second_id).values(**{column: first[column]}))


def test_integrity_errors_retry_the_whole_transaction_then_fail_leaving_nothing(db):
    calls = []

    def flaky(conn):
        calls.append(1)
        conn.execute(m.T_SITES.insert().values(name="s1"))
        if len(calls) < 3:
            conn.execute(m.T_SITES.insert().values(name="s1"))  # the database refuses the duplicate
        return len(calls)
    assert db.run(flaky) == 3
    assert [r["name"] for r in rows(db, m.T_SITES)] == ["s1"]
    before = snapshot(db)
    calls.clear()

    def always(conn):
        calls.append(1)
        conn.execute(m.T_SITES.insert().values(name="s2"))
        conn.execute(m.T_SITES.insert().values(name="s2"))
    with pytest.raises(m.DBError):
        db.run(always)
    assert len(calls) == m.RETRIES and snapshot(db) == before


def test_a_password_never_shows(tmp_path):
    url = "postgresql://mvc:s3cr3t-pw@127.0.0.1:1/mvc"
    d = m.Database(url)
    assert "s3cr3t-pw" not in d.safe_url and d.safe_url.startswith("postgresql+psycopg://mvc:***@")
    with pytest.raises(m.DBError) as err:
        d.migrate()
    assert "s3cr3t-pw" not in str(err.value) and "127.0.0.1" in str(err.value)
    d2 = m.Database("mysql://mvc@127.0.0.1:1/mvc", password="s3cr3t-pw")
    assert d2.url.password == "s3cr3t-pw" and "s3cr3t-pw" not in d2.safe_url
    with pytest.raises(m.DBError) as err:
        d2.migrate()
    assert "s3cr3t-pw" not in str(err.value)


def _worker(url, password, req, conts, barrier, queue):
    d = m.Database(url, password)
    barrier.wait()
    try:
        out = register(d, req, conts)
        queue.put((req["name"], req["owner"], "ok", [n["name"] for n in out["plan"]["nodes"]]))
    except Exception as exc:  # pylint: disable=broad-except
        queue.put((req["name"], req["owner"], "error", "%s: %s" % (type(exc).__name__, exc)))
    finally:
        d.dispose()


def concurrent_registrations(db, url, password=None, n=20):
    """``n`` processes register at once: 4 name clashes between owners and more demand than capacity.
    Returns the outcomes after checking that every request fully landed or fully failed, with nothing shared."""
    conts = containers(per_site=2, cpus=6)  # 24 vCPUs: room for about 6 clusters of 4
    register(db, request("seed", count=0), conts)
    reqs = []
    for i in range(n):
        name = "c%d" % (i % (n - 4))  # the last 4 reuse names of the first 4, with another owner
        reqs.append(request(name, count=2 + i % 3, owner="alice" if i < n - 4 else "bob"))
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, password, r, conts, barrier, queue)) for r in reqs]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _p in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    ok = [o for o in outcomes if o[2] == "ok"]
    errors = [o for o in outcomes if o[2] == "error"]
    for o in errors:
        # A placement that does not fit, or a name another owner took (RequestError is FieldError).
        assert o[3].startswith(("PlacementError", "FieldError")), o
    clusters = dict((r["name"], r) for r in rows(db, m.T_CLUSTERS))
    nodes = rows(db, m.T_NODES)
    # Every request fully landed or fully failed.
    assert sorted(clusters) == sorted(["seed"] + [o[0] for o in ok])
    for name, owner, _s, node_names in ok:
        assert clusters[name]["owner"] == owner
        assert sorted(n["name"] for n in nodes if n["cluster_id"] == clusters[name]["id"]) == sorted(node_names)
    assert len(nodes) == 1 + sum(len(o[3]) for o in ok)
    for col in ("name", "mac", "overlay_ip"):
        values = [n[col] for n in nodes]
        assert len(values) == len(set(values)), col
    addresses = [r["ip"] for r in rows(db, m.T_ADDRESSES)]
    assert sorted(addresses) == sorted([n["overlay_ip"] for n in nodes] + [e["overlay_ip"] for e in rows(db, m.T_EDGES)])
    subnets = [netaddr.IPNetwork(r["subnet"]) for r in rows(db, m.T_SUBNETS)]
    assert len(subnets) == len(clusters)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1:]:
            assert a.last < b.first or b.last < a.first
    # Nothing placed beyond capacity.
    used = {}
    for n in nodes:
        used[n["host_id"]] = used.get(n["host_id"], 0) + n["vcpus"]
    assert max(used.values()) <= 6
    for name in ("c0", "c1", "c2", "c3"):
        assert sum(1 for o in ok if o[0] == name) <= 1
    return outcomes


def _migrator(url, password, barrier, queue):
    barrier.wait()
    d = None
    try:
        d = m.Database(url, password)  # on SQLite, all of them may find no file yet
        queue.put(d.migrate())
    except Exception as exc:  # pylint: disable=broad-except
        queue.put("%s: %s" % (type(exc).__name__, exc))
    finally:
        if d is not None:
            d.dispose()


def concurrent_migrations(url, password=None, n=6):
    """``n`` processes migrate one empty database at once: exactly one creates the schema, none fails."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_migrator, args=(url, password, barrier, queue)) for _i in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _p in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results, key=str) == sorted([(0, m.SCHEMA_VERSION)] + [(m.SCHEMA_VERSION, m.SCHEMA_VERSION)] * (n - 1),
                                              key=str), results
    d = m.Database(url, password)
    assert d.current_version() == m.SCHEMA_VERSION
    assert rows(d, m.T_META) == [{"id": 1, "schema_version": m.SCHEMA_VERSION}]
    d.dispose()


def test_concurrent_migrations(tmp_path):
    concurrent_migrations(str(tmp_path / "new" / "mvc.sqlite"))
    assert stat.S_IMODE((tmp_path / "new" / "mvc.sqlite").stat().st_mode) == 0o600


def test_concurrent_registrations(db):
    outcomes = concurrent_registrations(db, str(db.url), n=12)
    assert any(o[2] == "ok" for o in outcomes) and any(o[2] == "error" for o in outcomes)


# Marking nodes deployed and reading the key: neither registers the request again.


def by_id(db, table):
    return dict((r["id"], r) for r in rows(db, table))


def test_mark_deployed_changes_only_the_status_of_the_nodes_it_names(db):
    register(db, request("lab1", count=2), containers())
    register(db, request("lab2", count=1), containers())
    others = [rows(db, t) for t in m.V1_TABLES if t is not m.T_NODES and t is not m.T_CLUSTERS]
    nodes, clusters = by_id(db, m.T_NODES), by_id(db, m.T_CLUSTERS)
    out = db.run(lambda conn: m.mark_deployed(conn, "lab1", ["lab1-frontend", "lab1-compute-1"]))
    assert out["changed"] and out["before"] != out["after"]
    assert [(n["name"], n["status"]) for n in out["plan"]["nodes"]] == [
        ("lab1-frontend", "deployed"), ("lab1-compute-0", "planned"), ("lab1-compute-1", "deployed")]
    assert out["plan"]["cluster"]["status"] == "planned"
    assert [rows(db, t) for t in m.V1_TABLES if t is not m.T_NODES and t is not m.T_CLUSTERS] == others
    assert by_id(db, m.T_CLUSTERS) == clusters  # the cluster stays planned while a node is
    now = by_id(db, m.T_NODES)
    changed = dict((i, r) for i, r in now.items() if r != nodes[i])
    assert sorted(r["name"] for r in changed.values()) == ["lab1-compute-1", "lab1-frontend"]
    assert all(dict(r, status=nodes[i]["status"]) == nodes[i] and r["status"] == "deployed"
               for i, r in changed.items())
    # All of them (no list): the cluster is deployed too, and lab2 is still as it was.
    out = db.run(lambda conn: m.mark_deployed(conn, "lab1"))
    assert out["changed"] and out["plan"]["cluster"]["status"] == "deployed"
    assert set(n["status"] for n in out["plan"]["nodes"]) == {"deployed"}
    lab2 = [r for r in by_id(db, m.T_CLUSTERS).values() if r["name"] == "lab2"]
    assert lab2 == [r for r in clusters.values() if r["name"] == "lab2"]
    assert [r for r in by_id(db, m.T_NODES).values() if r["name"].startswith("lab2-")] == [
        r for r in nodes.values() if r["name"].startswith("lab2-")]
    # Registering the same request again keeps them deployed.
    assert not register(db, request("lab1", count=2))["changed"]


def test_mark_deployed_is_idempotent_and_check_mode_writes_nothing(db):
    register(db, request("lab1", count=1), containers())
    before = snapshot(db)
    check = db.run(lambda conn: m.mark_deployed(conn, "lab1"), check_mode=True)
    assert check["changed"] and check["plan"]["cluster"]["status"] == "deployed"
    assert check["before"]["cluster"]["status"] == "planned" and check["after"]["cluster"]["status"] == "deployed"
    assert snapshot(db) == before
    assert db.run(lambda conn: m.mark_deployed(conn, "lab1"))["changed"]
    after = snapshot(db)
    again = db.run(lambda conn: m.mark_deployed(conn, "lab1", ["lab1-compute-0"]))
    assert not again["changed"] and again["before"] == again["after"]
    assert snapshot(db) == after


@pytest.mark.parametrize("name, nodes, field", [
    ("lab1", ["lab1-frontend", "lab1-compute-7"], "nodes[1]"),
    ("lab1", ["lab2-frontend"], "nodes[0]"),
    ("nosuch", None, "request.name"),
    ("Bad_Name", None, "vcluster.name"),
])
def test_mark_deployed_refusals_name_the_field_and_change_nothing(db, name, nodes, field):
    register(db, request("lab1", count=1), containers())
    before = snapshot(db)
    with pytest.raises(FieldError) as err:
        db.run(lambda conn: m.mark_deployed(conn, name, nodes))
    assert err.value.field == field, str(err.value)
    assert snapshot(db) == before


def test_the_key_is_read_without_the_write_lock(db):
    key = register(db, request("lab1", count=1), containers(), return_key=True)["plan"]["n2n_key"]
    reader = m.Database(db.url.render_as_string(hide_password=False), readonly=True, create=False)
    try:
        # Another run holds the write lock (the meta row, BEGIN IMMEDIATE on SQLite) all the while.
        with db.engine.connect() as writer:
            with writer.begin():
                writer.execute(sa.select(m.T_META.c.id).where(m.T_META.c.id == 1).with_for_update())
                assert reader.run(lambda conn: m.read_key(conn, "lab1", None)) == key
                with pytest.raises(FieldError, match="^names: cluster lab2 is not registered"):
                    reader.run(lambda conn: m.read_key(conn, "lab2", None))
    finally:
        reader.dispose()


GENERIC = [name for name in list(globals()) if name.startswith("test_") and name not in (
    "test_a_password_never_shows", "test_concurrent_registrations", "test_concurrent_migrations")]


# --- SQLite only ---------------------------------------------------------------------------------------


def test_sqlite_file_is_created_0600_with_foreign_keys_on(tmp_path):
    path = tmp_path / "deep" / "dir" / "mvc.sqlite"
    old = os.umask(0o022)
    try:
        d = m.Database(str(path))
        d.migrate()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with d.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(m.T_HOSTS.insert().values(name="x", site_id=999, cpus=1, memory_mb=1, disk_gb=1))
    d.dispose()


def test_readonly_open_does_not_create_a_file(tmp_path):
    with pytest.raises(m.DBError, match="does not exist"):
        m.Database(str(tmp_path / "none.sqlite"), readonly=True, create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_default_database_path_and_driver_names():
    assert m.make_url(None).database == os.path.expanduser("~/.local/share/cmc-mvc/mvc.sqlite")
    assert m.make_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert m.make_url("mariadb://u@h/db").drivername == "mysql+pymysql"
    with pytest.raises(m.InputError, match="unsupported database 'oracle'"):
        m.make_url("oracle://u@h/db")


def test_memory_database_for_check_mode():
    d = m.memory_database()
    out = register(d, request(), containers(), check_mode=True)
    assert out["changed"] and out["plan"]["nodes"]


@pytest.mark.parametrize("conts, field, text", [
    ([{"mvc_site": "osaka", "mvc_free": {}}], "vm_containers[0]", "no inventory_hostname"),
    ([{"name": "a", "mvc_site": "osaka"}], "vm_containers[0] (a).mvc_free", "missing"),
    ([{"name": "a", "mvc_site": "osaka", "mvc_free": {"cpus": 2, "memory_mb": 1024, "disk_gb": None}}],
     "vm_containers[0] (a).mvc_free.disk_gb", "set the Rocks host attribute mvc_disk_gb"),
    ([{"name": "a", "mvc_site": "osaka", "mvc_appliance": "compute", "mvc_free": {}}],
     "vm_containers[0] (a).mvc_appliance", "not a VM container"),
    ([{"name": "a", "mvc_site": "o saka", "mvc_free": {}}], "vm_containers[0] (a).mvc_site", "site name"),
])
def test_bad_vm_containers_name_the_field(conts, field, text):
    with pytest.raises(m.InputError) as err:
        m.normalize_containers(conts)
    assert err.value.field == field and text in str(err.value)


def test_vcpus_per_cpu_multiplies_only_the_cpus():
    hv = [{"name": "a", "mvc_site": "osaka", "mvc_free": {"cpus": 2, "memory_mb": 1024, "disk_gb": 10}}]
    assert m.normalize_containers(hv)[0]["cpus"] == 2
    out = m.normalize_containers(hv, vcpus_per_cpu=4)[0]
    assert (out["cpus"], out["memory_mb"], out["disk_gb"]) == (8, 1024, 10)
    for bad in (0, True, 1.5, "4"):
        with pytest.raises(m.InputError) as err:
            m.normalize_containers(hv, vcpus_per_cpu=bad)
        assert err.value.field == "vcpus_per_cpu"


def test_long_names_get_a_short_unique_community():
    assert m.community_for("lab1", set()) == "lab1"
    long = "a" * 20
    c = m.community_for(long, set())
    assert len(c) == 16 and c.startswith("a" * 11 + "-")
    assert m.community_for("lab1", {"lab1"}) != "lab1"


def test_removed_parts_name_what_a_shrink_or_move_takes_away(db):
    first = register(db, request(count=4), containers())
    assert m.removed_parts(first["before"], first["after"]) == {"nodes": [], "edges": []}
    shrunk = register(db, request(count=1), containers())
    gone = m.removed_parts(shrunk["before"], shrunk["after"])
    assert [n["name"] for n in gone["nodes"]] == ["lab1-compute-1", "lab1-compute-2", "lab1-compute-3"]
    old = dict((n["name"], n["dom0"]) for n in first["plan"]["nodes"])
    assert all(n["dom0"] == old[n["name"]] for n in gone["nodes"])
    kept = set(e["dom0"] for e in shrunk["plan"]["edges"])
    assert sorted(e["dom0"] for e in gone["edges"]) == sorted(set(old.values()) - kept)
    moved = {"nodes": [dict(n, dom0="elsewhere") for n in shrunk["after"]["nodes"]], "edges": []}
    assert [n["dom0"] for n in m.removed_parts(moved, shrunk["after"])["nodes"]] == ["elsewhere", "elsewhere"]
    assert m.removed_parts(shrunk["after"], None)["nodes"] == shrunk["after"]["nodes"]


def test_a_long_cluster_name_gets_the_bridge_name_the_edge_role_makes(db):
    plan = register(db, request(name="averylongclustername", count=1), containers())["plan"]
    assert plan["cluster"]["bridge"] == "mvc-averyl-%s" % hashlib.sha1(b"averylongclustername").hexdigest()[:4]
    assert len(plan["cluster"]["bridge"]) == 15


@pytest.mark.parametrize("change, field", [
    ({"count": 40}, "vcluster.compute.count"),
    ({"count": 1, "compute": {"count": 1, "vcpus": 1, "memory_mb": 9000, "disk_gb": 2}}, "vcluster.compute.memory_mb"),
    ({"count": 6, "placement": {"osaka": 6}}, "vcluster.placement.osaka"),
])
def test_a_capacity_error_names_the_field_to_change(db, change, field):
    conts = containers(per_site=1, cpus=4)
    change = dict(change)
    req = request("big", count=change.pop("count"), **change)
    before = snapshot(db)
    with pytest.raises(_placement.PlacementError) as err:
        register(db, req, conts)
    assert err.value.field == field, str(err.value)
    assert snapshot(db) == before


def test_the_key_is_read_from_a_read_only_sqlite_file(db):
    key = register(db, request("lab1", count=1), containers(), return_key=True)["plan"]["n2n_key"]
    before = snapshot(db)
    # mode=ro: SQLite itself refuses every write on this connection, even root's.
    engine = sa.create_engine("sqlite:///file:%s?mode=ro&uri=true" % db.url.database, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert m.read_key(conn, "lab1", None) == key
            assert m.read_clusters(conn, ["lab1"])[0]["cluster"]["name"] == "lab1"
            with pytest.raises(sa.exc.OperationalError, match="readonly"):
                conn.execute(m.T_META.update().values(schema_version=m.SCHEMA_VERSION))
    finally:
        engine.dispose()
    assert snapshot(db) == before
