# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _request

GOOD = {
    "name": "lab1",
    "owner": "alice",
    "overlay": {"subnet": "10.200.1.0/24"},
    "frontend": {"vcpus": 1, "memory_mb": 512, "disk_gb": 4},
    "compute": {"count": 4, "vcpus": 1, "memory_mb": 256, "disk_gb": 2},
    "sites": ["osaka", "sdsc"],
    "placement": "spread",
    "os": "debian-12",
    "packages": ["openmpi-bin"],
    "users": [{"name": "alice", "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@x"]}],
}


def _with(path, value):
    req = copy.deepcopy(GOOD)
    cur = req
    keys = path.split(".")
    for k in keys[:-1]:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    if value is KeyError:
        del cur[keys[-1]]
    else:
        cur[keys[-1]] = value
    return req


def test_the_design_example_is_valid_and_normalized():
    out = _request.validate(GOOD, known_sites=["osaka", "sdsc", "tokyo"])
    assert out["compute"] == {"count": 4, "vcpus": 1, "memory_mb": 256, "disk_gb": 2}
    assert out["frontend"] == {"vcpus": 1, "memory_mb": 512, "disk_gb": 4, "site": None}
    assert out["sites"] == ["osaka", "sdsc"] and out["placement"] == "spread"


def test_defaults_for_a_minimal_request():
    out = _request.validate({"name": "a", "owner": "bob"})
    assert out["compute"]["count"] == 0 and out["frontend"]["memory_mb"] == 512
    assert out["sites"] is None and out["placement"] == "spread" and out["os"] == "debian-12"
    assert out["overlay"] == {"subnet": None} and out["packages"] == [] and out["users"] == []


def test_digest_is_stable_and_changes_with_the_request():
    a = _request.digest(_request.validate(GOOD))
    assert a == _request.digest(_request.validate(copy.deepcopy(GOOD)))
    assert a != _request.digest(_request.validate(_with("compute.count", 5)))


@pytest.mark.parametrize("path, value, field, text", [
    ("name", "Lab1", "vcluster.name", "must match"),
    ("name", "1lab", "vcluster.name", "must match"),
    ("name", "a" * 32, "vcluster.name", "must match"),
    ("name", "lab_1", "vcluster.name", "must match"),
    ("name", KeyError, "vcluster.name", "is required"),
    ("owner", "", "vcluster.owner", "user name"),
    ("compute.count", -1, "vcluster.compute.count", "must be an integer >= 0, got -1"),
    ("compute.count", "four", "vcluster.compute.count", "must be an integer, got 'four'"),
    ("compute.count", True, "vcluster.compute.count", "must be an integer >= 0"),
    ("compute.vcpus", 0, "vcluster.compute.vcpus", "must be an integer >= 1, got 0"),
    ("compute.memory_mb", -256, "vcluster.compute.memory_mb", ">= 32"),
    ("compute.disk_gb", 0, "vcluster.compute.disk_gb", ">= 1"),
    ("frontend.vcpus", 0, "vcluster.frontend.vcpus", ">= 1"),
    ("frontend.memory_mb", 1.5, "vcluster.frontend.memory_mb", "integer"),
    ("frontend.cores", 2, "vcluster.frontend.cores", "unknown key"),
    ("overlay.subnet", 12, "vcluster.overlay.subnet", "must be a string, got int"),
    ("overlay.subnet", "1" * 65, "vcluster.overlay.subnet", "CIDR"),
    ("overlay.pool", "10.0.0.0/8", "vcluster.overlay.pool", "unknown key"),
    ("placement", "random", "vcluster.placement", "spread, pack or a mapping"),
    ("placement", {"osaka": 2, "sdsc": 1}, "vcluster.placement", "add up to 3 compute nodes, but compute.count is 4"),
    ("placement", {"osaka": 2, "sdsc": -2}, "vcluster.placement.sdsc", ">= 0"),
    ("placement", {"osaka": 2, "tokyo": 2}, "vcluster.placement.tokyo", "not in vcluster.sites"),
    ("sites", [], "vcluster.sites", "at least one"),
    ("sites", ["osaka", "osaka"], "vcluster.sites[1]", "twice"),
    ("sites", "osaka", "vcluster.sites", "must be a list"),
    ("packages", ["ok", "bad name"], "vcluster.packages[1]", "bad value"),
    ("os", "Debian 12", "vcluster.os", "OS name"),
    ("users.0.name", "Alice!", "vcluster.users[0].name", "Unix user name"),
    ("users.0.ssh_keys", ["not a key"], "vcluster.users[0].ssh_keys[0]", "OpenSSH public key"),
    ("users.0.sudo", "yes", "vcluster.users[0].sudo", "true or false"),
    ("frontend", [1], "vcluster.frontend", "must be a mapping"),
    ("colour", "blue", "vcluster.colour", "unknown key"),
])
def test_bad_input_names_the_field(path, value, field, text):
    with pytest.raises(_request.RequestError) as err:
        _request.validate(_with(path, value))
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")
    assert text in str(err.value)


def test_not_a_mapping():
    with pytest.raises(_request.RequestError, match=r"^vcluster: must be a mapping"):
        _request.validate(["lab1"])


def test_templated_numbers_as_text_are_accepted():
    out = _request.validate(_with("compute.count", "6"))
    assert out["compute"]["count"] == 6


@pytest.mark.parametrize("path, value, field", [
    ("sites", ["osaka", "mars"], "vcluster.sites[1]"),
    ("placement", {"osaka": 2, "sdsc": 2}, None),
    ("frontend.site", "mars", "vcluster.frontend.site"),
])
def test_unknown_sites(path, value, field):
    req = _with(path, value)
    if field is None:
        req["sites"] = None
        req["placement"] = {"osaka": 2, "mars": 2}
        field = "vcluster.placement.mars"
    with pytest.raises(_request.RequestError) as err:
        _request.validate(req, known_sites=["osaka", "sdsc"])
    assert err.value.field == field and "unknown site" in str(err.value) and "known: osaka, sdsc" in str(err.value)


def test_frontend_site_must_be_among_requested_sites():
    req = _with("frontend.site", "tokyo")
    with pytest.raises(_request.RequestError, match=r"vcluster.frontend.site: 'tokyo' is not in vcluster.sites"):
        _request.validate(req, known_sites=["osaka", "sdsc", "tokyo"])


def test_users_get_sudo_only_when_they_ask():
    out = _request.validate(_with("users", [{"name": "alice", "ssh_keys": [], "sudo": True}, {"name": "bob"}]))
    assert [(u["name"], u["sudo"]) for u in out["users"]] == [("alice", True), ("bob", False)]


@pytest.mark.parametrize("path, value, field", [
    ("name", "evil\n", "vcluster.name"),
    ("owner", "alice\n", "vcluster.owner"),
    ("os", "debian-12\n", "vcluster.os"),
    ("packages", ["vim\n"], "vcluster.packages[0]"),
    ("users.0.name", "bob\n", "vcluster.users[0].name"),
    ("sites", ["osaka\n"], "vcluster.sites[0]"),
    ("frontend.site", "osaka\n", "vcluster.frontend.site"),
    ("users.0.ssh_keys", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@x\n"], "vcluster.users[0].ssh_keys[0]"),
])
def test_a_trailing_newline_is_refused(path, value, field):
    with pytest.raises(_request.RequestError) as err:
        _request.validate(_with(path, value))
    assert err.value.field == field


@pytest.mark.parametrize("path, value, field", [
    ("name", "a" * 10_000_000, "vcluster.name"),
    ("owner", "b" * 10_000_000, "vcluster.owner"),
    ("packages", ["c" * 10_000_000], "vcluster.packages[0]"),
    ("packages", ["p%d" % i for i in range(10_000)], "vcluster.packages"),
    ("users", [{"name": "u%d" % i} for i in range(10_000)], "vcluster.users"),
    ("users.0.ssh_keys", ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG " + "x" * 10_000_000], "vcluster.users[0].ssh_keys[0]"),
    ("users.0.ssh_keys", ["ssh-ed25519 AAAA k%d" % i for i in range(100)], "vcluster.users[0].ssh_keys"),
    ("overlay.subnet", "1" * 10_000_000, "vcluster.overlay.subnet"),
    ("compute.count", 1_000_000, "vcluster.compute.count"),
    ("compute.count", "9" * 5000, "vcluster.compute.count"),
    ("compute.memory_mb", 10 ** 12, "vcluster.compute.memory_mb"),
    ("placement", {"osaka": 1_000_000}, "vcluster.placement.osaka"),
    ("placement", dict(("s%d" % i, 0) for i in range(1000)), "vcluster.placement"),
])
def test_oversized_input_is_refused_with_a_short_error(path, value, field):
    with pytest.raises(_request.RequestError) as err:
        _request.validate(_with(path, value))
    assert err.value.field == field
    assert len(str(err.value)) < 300, str(err.value)[:300]


def test_an_error_quotes_a_short_prefix_and_the_length():
    with pytest.raises(_request.RequestError) as err:
        _request.validate(_with("name", "Z" * 5000))
    assert "ZZZZ" in str(err.value) and "(5000 characters)" in str(err.value)


# Digests of these requests as the validator before services and uids (commit 71e010b) computed them: a request that
# leaves both out keeps its digest, so re-running it against a database row written then changes nothing.
OLD_DIGESTS = [
    (GOOD, "cbd1260160a91726fa332c0aa8f81ba725755a95cfd08d251943476006289adb"),
    ({"name": "a", "owner": "bob"}, "a0bef42613a356a6a815f3ba70e45ff89259c9157da7f51b371c3648102549ae"),
    ({"name": "big", "owner": "bob", "compute": {"count": 3, "memory_mb": 64}, "users": [{"name": "u", "sudo": True}]},
     "b68fa8b3ac8cf4acb2d2708549963da294c348a86d96fb1f629dff1b40dab719"),
]


@pytest.mark.parametrize("request_, old", OLD_DIGESTS)
def test_the_digest_of_a_request_without_services_is_unchanged(request_, old):
    assert _request.digest(_request.validate(request_)) == old


def test_services_that_equal_the_defaults_are_not_stored():
    out = _request.validate(_with("services", {"scheduler": "slurm", "shared_home": True, "mpi": "openmpi"}))
    assert "services" not in out and _request.digest(out) == OLD_DIGESTS[0][1]
    assert _request.services(out) == {"scheduler": "slurm", "shared_home": True, "mpi": "openmpi"}


def test_services_defaults_follow_the_compute_nodes():
    assert _request.services(_request.validate(GOOD))["scheduler"] == "slurm"
    # No compute nodes, or nodes too small for Slurm (valid requests before services existed): no scheduler.
    assert _request.services(_request.validate(_with("compute.count", 0)))["scheduler"] == "none"
    assert _request.services(_request.validate(_with("compute.memory_mb", 64)))["scheduler"] == "none"


def test_services_other_than_the_defaults_are_stored_and_change_the_digest():
    out = _request.validate(_with("services", {"shared_home": False, "mpi": "none"}))
    assert out["services"] == {"scheduler": "slurm", "shared_home": False, "mpi": "none"}
    assert _request.digest(out) != OLD_DIGESTS[0][1]


@pytest.mark.parametrize("changes, field, text", [
    ({"compute": {"count": 0}, "services": {"scheduler": "slurm"}}, "vcluster.services.scheduler",
     "slurm needs at least one compute node, but compute.count is 0"),
    ({"compute": {"count": 4, "memory_mb": 100}, "services": {"scheduler": "slurm"}}, "vcluster.compute.memory_mb",
     "100 is below 128"),
    ({"frontend": {"memory_mb": 96}, "services": {"scheduler": "slurm"}}, "vcluster.frontend.memory_mb",
     "96 is below 128"),
    ({"services": {"scheduler": "pbs"}}, "vcluster.services.scheduler", "must be one of slurm, none, got 'pbs'"),
    ({"services": {"mpi": "mpich"}}, "vcluster.services.mpi", "must be one of openmpi, none"),
    ({"services": {"shared_home": "on"}}, "vcluster.services.shared_home", "true or false"),
    ({"services": {"queue": "x"}}, "vcluster.services.queue", "unknown key"),
    ({"services": ["slurm"]}, "vcluster.services", "must be a mapping"),
    ({"users": [{"name": "a", "uid": 999}]}, "vcluster.users[0].uid", "must be an integer >= 1000, got 999"),
    ({"users": [{"name": "a", "uid": 0}]}, "vcluster.users[0].uid", ">= 1000"),
    ({"users": [{"name": "a", "uid": 64030}]}, "vcluster.users[0].uid", "at most 59999"),
    ({"users": [{"name": "a", "uid": "x"}]}, "vcluster.users[0].uid", "must be an integer"),
    ({"users": [{"name": "a", "uid": 2000}, {"name": "b", "uid": 2000}]}, "vcluster.users[1].uid",
     "2000 is also the uid of a"),
    ({"users": [{"name": "a"}, {"sudo": True}]}, "vcluster.users[1].name", "Unix user name, got None"),
])
def test_bad_services_and_uids_name_the_field(changes, field, text):
    with pytest.raises(_request.RequestError) as err:
        _request.validate(dict(GOOD, **changes))
    assert err.value.field == field and text in str(err.value), str(err.value)


def test_uids_are_kept_when_given():
    out = _request.validate(_with("users", [{"name": "a", "uid": 1000}, {"name": "b"}, {"name": "c", "uid": "59999"}]))
    assert [u.get("uid") for u in out["users"]] == [1000, None, 59999]
    assert "uid" not in out["users"][1]


def test_check_takes_what_ansiblemodule_gives():
    """The module's path: AnsibleModule applies argument_spec() (types, defaults), then check() runs once."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    spec = {"request": _request.argument_spec()}
    for req in (GOOD, {"name": "a", "owner": "bob"}, _with("users", [{"name": "a", "uid": 1000}])):
        result = ArgumentSpecValidator(spec).validate({"request": copy.deepcopy(req)})
        assert not result.error_messages
        assert _request.check(result.validated_parameters["request"]) == _request.validate(req)
    # A short request, as state=deployed and state=absent take it, passes the spec.
    assert not ArgumentSpecValidator(spec).validate({"request": {"name": "lab1"}}).error_messages


def test_the_argument_spec_is_a_copy():
    spec = _request.argument_spec()
    spec["options"]["compute"]["options"]["count"]["default"] = 9
    assert _request.OPTIONS["compute"]["options"]["count"]["default"] == 0
