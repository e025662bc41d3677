# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmc.mvc.rocks over real SSH: private sshd servers on loopback (127.0.0.x) serve the rocks stand-in; the
tests run ``ansible-inventory`` and compare with the expected output in this directory."""
from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess

import pytest

# tests/rocks_standin, on the path by conftest.py
import generate  # pylint: disable=import-error
from sshd import StandinFrontend, client_key  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("rockslab"))
    key, pub = client_key(work)
    servers = {
        "osaka": StandinFrontend(work, "osaka", "127.0.0.11", generate.generate("osaka", 12, guests=2), "7", pub),
        "sdsc": StandinFrontend(work, "sdsc", "127.0.0.12", generate.generate("sdsc", 6, guests=1, site_no=2),
                                "5.4", pub),
        "jump": StandinFrontend(work, "jump", "127.0.0.13", None, "7", pub),
        "kisti": StandinFrontend(work, "kisti", "127.0.0.14",
                                 generate.generate("kisti", 5, guests=1, site_no=3), "6.2u", pub),
    }
    try:
        for s in servers.values():
            s.start()
        yield {"work": work, "key": key, "servers": servers}
    finally:
        for s in servers.values():
            s.stop()


def _fe(lab, site, **extra):
    s = lab["servers"][site]
    return dict({"site": site, "host": s.address, "port": s.port, "user": "root",
                 "private_key_file": lab["key"]}, **extra)


def _write(lab, name, frontends, **extra):
    path = os.path.join(lab["work"], name + ".rocks.yml")
    with open(path, "w") as f:
        json.dump(dict({"plugin": "cmc.mvc.rocks", "frontends": frontends, "host_key_checking": False}, **extra), f)
    return path


def _inventory(path, *args, check=True):
    # A failing source must fail ansible-inventory (by default it only warns and prints an empty inventory).
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    p = subprocess.run(["ansible-inventory", "-i", path] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=False, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def _expected(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def _normalise_list(data, lab):
    """Replace the per-run SSH ports, key path and control path hashes (which hash the ports and key path
    too) so the output compares with the expected file; the control paths must differ between hosts."""
    data = copy.deepcopy(data)
    ports = [s.port for s in lab["servers"].values()]
    control_paths = set()
    for hv in data["_meta"]["hostvars"].values():
        if "ansible_port" in hv:
            hv["ansible_port"] = "<port>"
        if "ansible_ssh_common_args" in hv:
            args = hv["ansible_ssh_common_args"]["__ansible_unsafe"]
            for port in ports:
                args = re.sub(r"-p %d\b" % port, "-p <port>", args)
            hv["ansible_ssh_common_args"]["__ansible_unsafe"] = args
        if "ansible_control_path" in hv:
            path = hv["ansible_control_path"]["__ansible_unsafe"]
            assert re.match(r"^%\(directory\)s/[0-9a-f]{16}-%%r$", path), path
            control_paths.add(path)
            hv["ansible_control_path"]["__ansible_unsafe"] = "%(directory)s/<hash>-%%r"
    assert len(control_paths) == len([hv for hv in data["_meta"]["hostvars"].values() if "ansible_host" in hv])
    text = json.dumps(data, indent=1, sort_keys=True)
    for s in lab["servers"].values():
        text = text.replace("%s:%d" % (s.address, s.port), "%s:<port>" % s.address)
    return text.replace(lab["key"], "<key>") + "\n"


def test_graph_and_list_over_ssh(lab):
    path = _write(lab, "two", [_fe(lab, "osaka"), _fe(lab, "sdsc")])
    graph = _inventory(path, "--graph").stdout
    assert graph == _expected("expected_graph.txt")
    listed = json.loads(_inventory(path, "--list").stdout)
    assert _normalise_list(listed, lab) == _expected("expected_list.json")
    hv = listed["_meta"]["hostvars"]["vm-container-0-1.sdsc"]
    assert hv["mvc_free"]["cpus"] == 14
    proxy = _proxy_argv(hv["ansible_ssh_common_args"]["__ansible_unsafe"], alias="vm-container-0-1.sdsc")
    assert proxy[-5:] == ["-l", "root", "-W", "[%h]:%p", "127.0.0.12"]
    assert proxy[proxy.index("-i") + 1] == lab["key"]
    assert proxy[proxy.index("-p") + 1] == str(lab["servers"]["sdsc"].port)


def _proxy_argv(common_args, alias=None):
    """The ProxyCommand in ansible_ssh_common_args as argv (split as Ansible, then sh, split it)."""
    args = shlex.split(common_args)
    if alias:
        assert args[:2] == ["-o", "HostKeyAlias=" + alias], args
        args = args[2:]
    assert len(args) == 2 and args[0] == "-o" and args[1].startswith("ProxyCommand="), args
    return shlex.split(args[1][len("ProxyCommand="):])


def test_frontend_down_is_an_error_naming_it(lab):
    down = {"site": "tokyo", "host": "127.0.0.15", "port": 9, "user": "root", "private_key_file": lab["key"]}
    path = _write(lab, "down", [_fe(lab, "osaka"), down], ssh_args=["-o", "ConnectTimeout=5"])
    p = _inventory(path, "--graph", check=False)
    assert p.returncode != 0
    assert "Rocks frontend of site tokyo" in p.stderr and "127.0.0.15" in p.stderr
    assert "site_osaka" not in p.stdout  # the whole source failed, nothing half-built
    path = _write(lab, "downwarn", [_fe(lab, "osaka"), down], on_frontend_error="warn")
    p = _inventory(path, "--graph")
    assert "Rocks frontend of site tokyo" in p.stderr and "left out" in p.stderr
    assert "@site_osaka" in p.stdout and "tokyo" not in p.stdout


def test_frontend_through_a_jump_host(lab):
    jump = lab["servers"]["jump"]
    before = jump.log_text().count("Accepted publickey")
    fe = _fe(lab, "kisti", jump_host="root@%s:%d" % (jump.address, jump.port))
    path = _write(lab, "jump", [fe])
    graph = _inventory(path, "--graph").stdout
    assert "@site_kisti" in graph and "vm-container-0-1.kisti" in graph
    assert jump.log_text().count("Accepted publickey") == before + 1  # the one query went through the jump host
    hv = json.loads(_inventory(path, "--host", "compute-0-0.kisti").stdout)
    # through the frontend, which is reached through the jump host; the frontend's key on both hops
    outer = _proxy_argv(hv["ansible_ssh_common_args"], alias="compute-0-0.kisti")
    assert outer[-3:] == ["-W", "[%h]:%p", fe["host"]] and outer[outer.index("-p") + 1] == str(fe["port"])
    inner = _proxy_argv("-o " + shlex.quote(outer[-4]))
    assert inner[-3:] == ["-W", "[%%h]:%%p", jump.address] and inner[inner.index("-p") + 1] == str(jump.port)
    assert outer[outer.index("-i") + 1] == inner[inner.index("-i") + 1] == lab["key"]


def test_cache_used_flush_refreshes_and_fallback(lab):
    cache = os.path.join(lab["work"], "cache")
    path = _write(lab, "cached", [_fe(lab, "osaka"), _fe(lab, "kisti")], cache=True,
                  cache_plugin="ansible.builtin.jsonfile", cache_connection=cache, cache_timeout=3600)
    kisti = lab["servers"]["kisti"]
    first = json.loads(_inventory(path, "--list").stdout)
    assert len(first["site_kisti"]["hosts"]) == 5 and os.listdir(cache)
    kisti.write_data(generate.generate("kisti", 9, guests=1, site_no=3))
    try:
        again = json.loads(_inventory(path, "--list").stdout)
        assert again == first  # answered from the cache
        fresh = json.loads(_inventory(path, "--list", "--flush-cache").stdout)
        assert len(fresh["site_kisti"]["hosts"]) == 9
        kisti.stop()
        p = _inventory(path, "--list", "--flush-cache")
        assert "Rocks frontend of site kisti" in p.stderr and "cached answer" in p.stderr
        assert len(json.loads(p.stdout)["site_kisti"]["hosts"]) == 9
    finally:
        kisti.write_data(generate.generate("kisti", 5, guests=1, site_no=3))
        if kisti.proc is None:
            kisti.start()
