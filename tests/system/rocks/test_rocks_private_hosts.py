# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Later plays reach private hosts with the hostvars of cmc.mvc.rocks, over real SSH.

Three sites in network namespaces of their own, each with a stand-in frontend and a VM container at the same
private address 10.1.254.253 that only its frontend reaches (as on real Rocks sites); the third site's
frontend is reachable only through a jump host. ``ansible`` runs a command on every frontend and VM container,
one host after the other (so a shared control socket would be reused), with host keys checked, and each must
answer from its own site.

    controller (root namespace)
      100.127.77.1/30 -- 100.127.77.2  osaka: frontend :2200, VM container 10.1.254.253:22
      100.127.77.5/30 -- 100.127.77.6  sdsc:  frontend :2200, VM container 10.1.254.253:22
      100.127.77.9/30 -- 100.127.77.10 jump host :2200 -- 100.127.78.1/30 -- 100.127.78.2 kisti: frontend :2200,
                                                                             VM container 10.1.254.253:22
"""
from __future__ import annotations

import glob
import json
import os
import re
import subprocess

import pytest

# tests/rocks_standin, on the path by conftest.py
import generate  # pylint: disable=import-error
from sshd import StandinFrontend, client_key  # pylint: disable=import-error


PRIVATE_IP = "10.1.254.253"  # generate.generate(site, 2, containers=1, guests=0): the one VM container
SITES = ("osaka", "sdsc", "kisti")


def _ip(*args, ns=None):
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


def _link(ns_a, addr_a, ns_b, addr_b, name_a, name_b):
    """A veth pair between namespace ns_a (None: the root one) and ns_b, with a /30 on each end."""
    _ip("link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b, ns=ns_a)
    _ip("addr", "add", addr_a + "/30", "dev", name_a, ns=ns_a)
    _ip("link", "set", name_a, "up", ns=ns_a)
    _ip("addr", "add", addr_b + "/30", "dev", name_b, ns=ns_b)
    _ip("link", "set", name_b, "up", ns=ns_b)


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("rocksreach"))
    key, pub = client_key(work)
    tag = "mvcrk%d" % (os.getpid() % 100000)  # namespace and link names of this run only
    made_ns = []
    servers = []
    try:
        for name in SITES + ("jump",):
            ns = "%s%s" % (tag, name[0])
            _ip("netns", "add", ns)
            made_ns.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
        ns = dict(zip(SITES + ("jump",), made_ns))
        _link(None, "100.127.77.1", ns["osaka"], "100.127.77.2", tag + "o", "eth0")
        _link(None, "100.127.77.5", ns["sdsc"], "100.127.77.6", tag + "s", "eth0")
        _link(None, "100.127.77.9", ns["jump"], "100.127.77.10", tag + "j", "eth0")
        _link(ns["jump"], "100.127.78.1", ns["kisti"], "100.127.78.2", "eth1", "eth0")
        _ip("route", "add", "default", "via", "100.127.78.1", ns=ns["kisti"])  # answers to the jump host
        frontends = {"osaka": "100.127.77.2", "sdsc": "100.127.77.6", "kisti": "100.127.78.2"}
        for i, site in enumerate(SITES):
            _ip("addr", "add", PRIVATE_IP + "/32", "dev", "lo", ns=ns[site])  # the site's private network
            data = generate.generate(site, 2, containers=1, guests=0, site_no=i + 1)
            servers.append(StandinFrontend(work, "fe-" + site, frontends[site], data, "7", pub, port=2200,
                                           netns=ns[site], ready_from_log=True))
            servers.append(StandinFrontend(work, "vmc-" + site, PRIVATE_IP, None, "7", pub, port=22,
                                           netns=ns[site], ready_from_log=True))
        servers.append(StandinFrontend(work, "jump", "100.127.77.10", None, "7", pub, port=2200, netns=ns["jump"],
                                       ready_from_log=True))
        for s in servers:
            s.start()
        yield {"work": work, "key": key, "frontends": frontends}
    finally:
        # ControlPersist masters this module's ansible runs left: ask each to exit through its own socket.
        for sock in glob.glob(os.path.join(work, "cp", "*")):
            subprocess.run(["ssh", "-O", "exit", "-o", "ControlPath=" + sock, "x"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, timeout=30)
        for s in servers:
            s.stop()
        for name in reversed(made_ns):
            subprocess.run(["ip", "netns", "delete", name], check=False, timeout=30)  # takes the veths along
        for suffix in "osj":
            subprocess.run(["ip", "link", "delete", tag + suffix], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False, timeout=30)


def _run_everywhere(sites):
    key = sites["key"]
    fes = [{"site": site, "host": sites["frontends"][site], "port": 2200, "user": "root", "private_key_file": key}
           for site in SITES]
    fes[2]["jump_host"] = "root@100.127.77.10:2200"
    path = os.path.join(sites["work"], "sites.rocks.yml")
    with open(path, "w") as f:
        json.dump({"plugin": "cmc.mvc.rocks", "frontends": fes, "host_key_checking": False}, f)
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_FAILED="true", ANSIBLE_HOST_KEY_CHECKING="true",
               # the VM containers' own login: the user and key of the test (the frontend hops carry theirs)
               ANSIBLE_REMOTE_USER="root", ANSIBLE_PRIVATE_KEY_FILE=key,
               ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(sites["work"], "cp"),
               # Ansible's default multiplexing, host keys checked against a known_hosts of this test: the first
               # key of each host is learned, a different one refused (three VM containers share an address).
               ANSIBLE_SSH_ARGS="-C -o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=accept-new"
                                " -o UserKnownHostsFile=%s" % os.path.join(sites["work"], "known_hosts"),
               ANSIBLE_PIPELINING="true", ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1")
    # -f 1: one host after the other, so a control socket shared by two hosts would be reused, not raced for.
    p = subprocess.run(["ansible", "frontends:vm_containers", "-i", path, "-f", "1", "-m",
                        "ansible.builtin.command", "-a", "printenv ROCKS_STANDIN_DATA"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=300)
    return p


def test_every_private_host_is_reached_through_its_own_frontend(sites):
    p = _run_everywhere(sites)
    answers = dict(re.findall(r"^(\S+) \| CHANGED \| rc=0 >>\n(\S+)$", p.stdout, re.M))
    # ROCKS_STANDIN_DATA is set by each sshd (SetEnv) to a path in its own directory: it names the server.
    expected = {}
    for site in SITES:
        expected["%s.%s" % (site, site)] = os.path.join(sites["work"], "sshd-fe-" + site, "rocks-standin.json")
        expected["vm-container-0-0.%s" % site] = os.path.join(sites["work"], "sshd-vmc-" + site,
                                                              "rocks-standin.json")
    assert answers == expected, "rc=%d\n%s\n%s" % (p.returncode, p.stdout, p.stderr[-3000:])
    assert p.returncode == 0
    # host keys were checked (accept-new), each VM container's under its inventory name, none under the address
    known = os.path.join(sites["work"], "known_hosts")
    for site in SITES:
        assert subprocess.run(["ssh-keygen", "-F", "vm-container-0-0.%s" % site, "-f", known],
                              stdout=subprocess.DEVNULL, check=False).returncode == 0, site
    assert subprocess.run(["ssh-keygen", "-F", PRIVATE_IP, "-f", known], stdout=subprocess.DEVNULL,
                          check=False).returncode == 1
