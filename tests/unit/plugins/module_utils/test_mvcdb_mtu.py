# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each cluster's MTU kept in the MVC database (schema version 4): following the path until a node is deployed, then
kept by later runs and growth, a smaller path refused by name, and clusters of schema 3 given one when registered
again.
tests/system/db/test_db_mtu.py runs the tests listed in GENERIC on real PostgreSQL and MariaDB servers."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb_schema
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils import mvcdb_data
from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import containers, read, register, request

TABLES = m.V1_TABLES + [_mvcdb_schema.T_WG_PEERS]


def dump(db):
    return mvcdb_data.dump(db, TABLES)


def stored_mtu(db, name):
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT mtu FROM mvc_clusters WHERE name = :n"), {"n": name}).scalar_one()


def listed_mtus(db):
    return dict((p["cluster"]["name"], p["cluster"]["mtu"]) for p in read(db, m.read_clusters))


def deploy(db, name="lab1"):
    """Mark every node of ``name`` deployed, as deploy_mvc does at its end."""
    assert db.run(lambda conn: m.mark_deployed(conn, name))["changed"]


def test_a_cluster_keeps_the_mtu_its_guests_were_installed_with(db):
    first = register(db, request(), containers(), mtu=1364)
    assert first["changed"] and first["plan"]["cluster"]["mtu"] == 1364 and stored_mtu(db, "lab1") == 1364
    assert first["after"]["cluster"]["mtu"] == 1364  # what diff shows
    assert register(db, request(), mtu=1364)["changed"] is False
    # No node deployed yet (a deploy stopped by a path too small): the next run's path gives the MTU.
    smaller = register(db, request(), mtu=1264)
    assert smaller["changed"] and smaller["plan"]["cluster"]["mtu"] == 1264 and stored_mtu(db, "lab1") == 1264
    assert register(db, request(), mtu=1364)["plan"]["cluster"]["mtu"] == 1364
    deploy(db)
    # A larger path later (a site's uplink changed): the guests keep theirs, and so does the database.
    wider = register(db, request(), mtu=1440)
    assert wider["changed"] is False and wider["plan"]["cluster"]["mtu"] == 1364
    # Growth keeps it for the new nodes; a run without an MTU keeps it too.
    grown = register(db, request(count=4), mtu=1440)
    assert grown["changed"] and grown["plan"]["cluster"]["mtu"] == 1364 and len(grown["plan"]["nodes"]) == 5
    kept = register(db, request(count=4))
    assert kept["changed"] is False and kept["plan"]["cluster"]["mtu"] == 1364
    assert stored_mtu(db, "lab1") == 1364
    # Each cluster its own, read back by the read path.
    register(db, request("lab2", 1), mtu=1370)
    assert listed_mtus(db) == {"lab1": 1364, "lab2": 1370}


def test_a_path_smaller_than_the_cluster_s_mtu_fails_naming_mtu_and_writes_nothing(db):
    register(db, request(), containers(), mtu=1364)
    deploy(db)
    before = dump(db)
    for req in (request(), request(count=4)):
        with pytest.raises(m.InputError) as err:
            register(db, req, mtu=1356)
        assert err.value.field == "mtu"
        assert "1356 is smaller than the MTU 1364 of cluster lab1" in str(err.value)
        assert "destroyed and deployed again" in str(err.value)
        assert dump(db) == before


@pytest.mark.parametrize("mtu, text", [(575, "out of range 576-65535"), (65536, "out of range"),
                                       ("1400 ", "expected an MTU in bytes"), (True, "expected an MTU in bytes")])
def test_a_bad_mtu_fails_naming_mtu_and_writes_nothing(db, mtu, text):
    register(db, request("lab2", 1), containers(), mtu=1364)
    deploy(db, "lab2")
    before = dump(db)
    for name in ("lab1", "lab2"):  # new and deployed
        with pytest.raises(m.InputError) as err:
            register(db, request(name, 1), mtu=mtu)
        assert err.value.field == "mtu" and text in str(err.value)
        assert dump(db) == before


def test_a_cluster_of_schema_3_gets_its_mtu_when_registered_again(db):
    plans = dict((n, register(db, request(n, 1), containers())["plan"]) for n in ("lab1", "lab2"))
    assert all(p["cluster"]["mtu"] is None for p in plans.values())  # registered without one
    deploy(db)
    plans["lab1"] = read(db, m.read_clusters)[0]
    with db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE mvc_clusters DROP COLUMN mtu"))
        conn.execute(m.T_META.update().values(schema_version=3))
    assert db.current_version() == 3
    before = dump(db)
    # The read path reads a database it does not migrate: no MTU, nothing written.
    assert listed_mtus(db) == {"lab1": None, "lab2": None}
    assert [p["nodes"] for p in read(db, m.read_clusters)] == [plans["lab1"]["nodes"], plans["lab2"]["nodes"]]
    assert dump(db) == before
    assert db.migrate() == (3, m.SCHEMA_VERSION) and db.migrate() == (m.SCHEMA_VERSION, m.SCHEMA_VERSION)
    assert stored_mtu(db, "lab1") is None
    # The next registration with a path fixes it (a change, once); the cluster is otherwise as it was.
    out = register(db, request("lab1", 1), mtu=1364)
    assert out["changed"] and out["plan"]["cluster"]["mtu"] == 1364
    assert out["plan"]["nodes"] == plans["lab1"]["nodes"] and out["plan"]["edges"] == plans["lab1"]["edges"]
    assert register(db, request("lab1", 1), mtu=1500)["changed"] is False  # deployed: kept from now on
    assert listed_mtus(db) == {"lab1": 1364, "lab2": None}


def wg(name, site, count=1, backend="wireguard"):
    """A cluster whose nodes are all at ``site``, so on that site's Dom0s only."""
    return {"name": name, "owner": "alice", "compute": {"count": count}, "placement": {site: count},
            "frontend": {"site": site}, "overlay": {"backend": backend}}


def dom0s(out):
    return sorted(e["dom0"] for e in out["plan"]["edges"])


def test_a_wireguard_cluster_is_refused_an_mtu_that_would_shrink_another_s_on_a_shared_dom0(db):
    first = register(db, wg("wg1", "osaka"), containers(), mtu=1370)
    deploy(db, "wg1")
    # N2N clusters have an edge each, WireGuard clusters one interface per Dom0: only the latter are shared.
    register(db, wg("n1", "osaka", backend="n2n"), mtu=1364)
    before = dump(db)
    with pytest.raises(m.InputError) as err:
        register(db, wg("wg2", "osaka", count=3), mtu=1290)  # an IPv4 path of 1400: 1400 - 60 - 50
    assert err.value.field == "mtu"
    assert ("1290 is smaller than the MTU 1370 of cluster wg1, which shares the WireGuard interface of %s with cluster "
            "wg2: sized for 1290, that interface would drop wg1's larger frames" % dom0s(first)[0]) in str(err.value)
    assert "or cluster wg1 must be removed first" in str(err.value)
    assert dump(db) == before
    # Elsewhere, or as large: no conflict. An N2N cluster's run leaves the WireGuard interfaces alone.
    assert set(dom0s(register(db, wg("wg3", "sdsc", count=3), mtu=1290))).isdisjoint(dom0s(first))
    assert register(db, wg("wg2", "osaka", count=3), mtu=1370)["plan"]["cluster"]["mtu"] == 1370
    assert register(db, wg("n2", "osaka", count=3, backend="n2n"), mtu=1264)["changed"]
    # wg1's own later run on a wider path is no conflict either.
    assert register(db, wg("wg1", "osaka"), mtu=1440)["plan"]["cluster"]["mtu"] == 1370


GENERIC = [name for name in list(globals()) if name.startswith("test_")]
