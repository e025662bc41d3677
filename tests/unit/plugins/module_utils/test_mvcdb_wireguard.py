# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WireGuard backend in the MVC database: the request's overlay.backend, the plan's VNI, and the Dom0s'
transport addresses and public keys (schema version 3). tests/system/db runs the tests in GENERIC on PostgreSQL
and MariaDB."""
from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb as m
from ansible_collections.cmc.mvc.plugins.module_utils import _mvcdb_schema, _mvcdb_wireguard, _request
from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

from ansible_collections.cmc.mvc.tests.unit.plugins.module_utils.mvcdb_data import containers, register

GENERIC = ["test_a_wireguard_cluster_plans_its_backend_and_a_vni_of_its_own",
           "test_peers_get_stable_addresses_and_the_hub_the_first",
           "test_a_dom0_without_a_wireguard_cluster_leaves_the_hub",
           "test_the_backend_of_a_registered_cluster_cannot_change"]

DOM0S = ["vm-container-0-0.osaka", "vm-container-0-1.osaka", "vm-container-0-0.sdsc", "vm-container-0-1.sdsc"]


def key(n):
    return base64.b64encode(bytes([n]) * 32).decode()


def wg_request(name="wg1", count=2, backend="wireguard"):
    return {"name": name, "owner": "alice", "compute": {"count": count}, "placement": "spread",
            "overlay": {"backend": backend}}


def sync(db, peers, network="10.250.0.0/16", check_mode=False):
    return db.run(lambda conn: _mvcdb_wireguard.sync_peers(conn, network, peers, check_mode), check_mode=check_mode)


def edges_of(out):
    return sorted(e["dom0"] for e in out["plan"]["edges"])


def test_a_wireguard_cluster_plans_its_backend_and_a_vni_of_its_own(db):
    a = register(db, wg_request("wg1"), containers())
    b = register(db, wg_request("n1", backend="n2n"), containers())
    assert a["plan"]["cluster"]["overlay"] == "wireguard" and b["plan"]["cluster"]["overlay"] == "n2n"
    assert a["plan"]["cluster"]["vni"] != b["plan"]["cluster"]["vni"]
    assert all(isinstance(p["plan"]["cluster"]["vni"], int) and p["plan"]["cluster"]["vni"] > 0 for p in (a, b))
    # The plans read back say the same.
    read = dict((p["cluster"]["name"], p["cluster"]) for p in db.run(m.read_clusters))
    assert read["wg1"]["overlay"] == "wireguard" and read["wg1"]["vni"] == a["plan"]["cluster"]["vni"]
    # Unchanged re-run.
    assert register(db, wg_request("wg1"), containers())["changed"] is False


def test_peers_get_stable_addresses_and_the_hub_the_first(db):
    out = register(db, wg_request("wg1", count=3), containers())
    dom0s = edges_of(out)
    first = sync(db, [{"name": d, "public_key": key(i + 1)} for i, d in enumerate(dom0s)])
    assert first["changed"] and first["hub_address"] == "10.250.0.1/16" and first["before"] == []
    addresses = dict((p["name"], p["address"]) for p in first["peers"])
    assert sorted(addresses) == sorted(dom0s)
    assert len(set(addresses.values())) == len(dom0s) and "10.250.0.1" not in addresses.values()
    # The same again changes nothing; a new key is recorded at the same address.
    again = sync(db, [{"name": d, "public_key": key(i + 1)} for i, d in enumerate(dom0s)])
    assert again["changed"] is False and again["peers"] == first["peers"]
    rekeyed = sync(db, [{"name": dom0s[0], "public_key": key(9)}])
    assert rekeyed["changed"]
    assert dict((p["name"], (p["address"], p["public_key"])) for p in rekeyed["peers"])[dom0s[0]] == \
        (addresses[dom0s[0]], key(9))
    # The other Dom0s stay: they host the cluster.
    assert sorted(p["name"] for p in rekeyed["peers"]) == sorted(dom0s)


def test_a_dom0_without_a_wireguard_cluster_leaves_the_hub(db):
    out = register(db, wg_request("wg1", count=3), containers())
    register(db, wg_request("n1", count=3, backend="n2n"), containers())
    dom0s = edges_of(out)
    sync(db, [{"name": d, "public_key": key(i + 1)} for i, d in enumerate(dom0s)])
    db.run(lambda conn: m.unregister(conn, "wg1"))
    # The n2n cluster on the same Dom0s does not keep them on the hub.
    left = sync(db, [])
    assert left["changed"] and left["peers"] == [] and len(left["before"]) == len(dom0s)
    assert sync(db, [])["changed"] is False


def test_the_backend_of_a_registered_cluster_cannot_change(db):
    register(db, wg_request("wg1"), containers())
    with pytest.raises(FieldError, match="cluster wg1 runs over wireguard; remove it") as e:
        register(db, wg_request("wg1", backend="n2n"), containers())
    assert e.value.field == "vcluster.overlay.backend"


def test_check_mode_returns_a_dom0_without_a_key_and_writes_nothing(db):
    out = register(db, wg_request("wg1"), containers())
    dom0s = edges_of(out)
    planned = sync(db, [{"name": d, "public_key": ""} for d in dom0s], check_mode=True)
    assert [p["public_key"] for p in planned["peers"]] == [None] * len(dom0s)
    assert sync(db, [])["peers"] == []


@pytest.mark.parametrize("peers, network, field, message", [
    ([{"name": "nowhere", "public_key": key(1)}], "10.250.0.0/16", "peers[0].name", "not a VM container known"),
    ([{"name": DOM0S[0], "public_key": "short="}], "10.250.0.0/16", "peers[0].public_key", "WireGuard public key"),
    ([{"name": DOM0S[0], "public_key": key(1)}, {"name": DOM0S[0], "public_key": key(2)}], "10.250.0.0/16",
     "peers[1].name", "listed twice"),
    ([], "10.250.0.0/31", "network", "too small"),
    ([], "10.250.0.300/16", "network", "expected an IPv4 network"),
])
def test_bad_input_names_its_field_and_writes_nothing(db, peers, network, field, message):
    register(db, wg_request("wg1"), containers())
    with pytest.raises(FieldError, match=message) as e:
        sync(db, peers, network)
    assert e.value.field == field
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_mvcdb_schema.T_WG_PEERS)).scalar() == 0


def test_a_full_transport_network_is_refused_by_name(db):
    register(db, wg_request("wg1", count=3), containers())
    with pytest.raises(FieldError, match="no free transport address") as e:
        sync(db, [{"name": d, "public_key": key(i + 1)} for i, d in enumerate(DOM0S)], "10.250.0.0/30")
    assert e.value.field == "network"


def test_a_request_names_a_known_backend():
    with pytest.raises(FieldError) as e:
        _request.validate(wg_request(backend="vxlan"))
    assert "overlay.backend" in e.value.field or "overlay.backend" in str(e.value)
    assert _request.validate(wg_request(backend="n2n"))["overlay"] == {"subnet": None}
    assert _request.validate(wg_request())["overlay"] == {"subnet": None, "backend": "wireguard"}
