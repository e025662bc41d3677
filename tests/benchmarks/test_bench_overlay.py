# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: iperf3 throughput and ping latency between two sites over the N2N v1 overlay, divided by the same
between the same two hosts on the direct path, in one run. Prints both ratios; asserts only that the tools
produced numbers.

Topology (network namespaces, addresses only inside them): a WAN bridge with the supernode (198.51.100.10);
two sites, each a private 10.0.0.0/24 LAN behind its own MASQUERADE router (198.51.100.1 and .2). The direct
path goes from host A through both NATs to host B, which router B forwards (DNAT) for iperf3 and ping: the same
underlay the overlay's UDP takes. The edges are started with the command line, environment file and bridge helper
that the cmc.mvc.n2n_edge role uses (rendered by module_utils/_n2n.py)."""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils._n2n import render_edge, render_supernode

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HELPER = os.path.join(TOP, "roles", "n2n_edge", "files", "mvc-n2n-edge-net")
P = "mvcb"
SECONDS = 3

if os.geteuid() != 0:
    raise RuntimeError("the overlay benchmark needs root (network namespaces, TAP devices)")


def sh(*args, ns=None, check=True, env=None):
    cmd = (["ip", "netns", "exec", "%s-%s" % (P, ns)] if ns else []) + list(args)
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc


class Lab:
    def __init__(self):
        self.procs = []
        self.namespaces = []

    def netns(self, name):
        sh("ip", "netns", "add", "%s-%s" % (P, name))
        self.namespaces.append("%s-%s" % (P, name))
        sh("ip", "link", "set", "lo", "up", ns=name)

    def spawn(self, ns, argv, env=None):
        proc = subprocess.Popen(["ip", "netns", "exec", "%s-%s" % (P, ns)] + argv, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def up(self, key):
        self.netns("wan")
        sh("ip", "link", "add", "wan0", "type", "bridge", ns="wan")
        sh("ip", "addr", "add", "198.51.100.10/24", "dev", "wan0", ns="wan")
        sh("ip", "link", "set", "wan0", "up", ns="wan")
        for i, site in enumerate("ab", start=1):
            r, h = "r" + site, "h" + site
            self.netns(r)
            self.netns(h)
            sh("ip", "link", "add", "%s-%s-w" % (P, r), "type", "veth", "peer", "name", "wan")
            sh("ip", "link", "set", "wan", "netns", "%s-%s" % (P, r))
            sh("ip", "link", "set", "%s-%s-w" % (P, r), "netns", "%s-wan" % P)
            sh("ip", "link", "set", "%s-%s-w" % (P, r), "master", "wan0", "up", ns="wan")
            sh("ip", "addr", "add", "198.51.100.%d/24" % i, "dev", "wan", ns=r)
            sh("ip", "link", "set", "wan", "up", ns=r)
            sh("ip", "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", "%s-%s" % (P, h), ns=r)
            sh("ip", "addr", "add", "10.0.0.1/24", "dev", "lan", ns=r)
            sh("ip", "link", "set", "lan", "up", ns=r)
            sh("ip", "addr", "add", "10.0.0.2/24", "dev", "eth0", ns=h)
            sh("ip", "link", "set", "eth0", "up", ns=h)
            sh("ip", "route", "add", "default", "via", "10.0.0.1", ns=h)
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=r)
            sh("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", ns=r)
        # Direct path to host B: router B forwards iperf3 and ping to it.
        for proto in (["-p", "tcp", "--dport", "5201"], ["-p", "icmp"]):
            sh("iptables", "-t", "nat", "-A", "PREROUTING", "-i", "wan", *proto, "-j", "DNAT",
               "--to-destination", "10.0.0.2", ns="rb")
        self.spawn("wan", render_supernode({"version": 1, "port": 7654})["argv"])
        for site, address in (("a", "10.210.0.1/24"), ("b", "10.210.0.2/24")):
            r = render_edge({"name": "bench", "community": "mvc-bench", "key": key, "version": 1,
                             "supernode": "198.51.100.10:7654", "address": address}, host="h" + site)
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            env.update(r["env"])
            sh("sh", HELPER, "pre", ns="h" + site, env=env)
            self.spawn("h" + site, r["argv"], env=env)
            sh("sh", HELPER, "post", ns="h" + site, env=env)

    def down(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    try:
        lab.up(secrets.token_urlsafe(18))
        yield lab
    finally:
        lab.down()


def ping_avg_ms(target):
    out = sh("ping", "-c", "40", "-i", "0.05", "-q", target, ns="ha").stdout
    match = re.search(r"= [0-9.]+/([0-9.]+)/", out)
    assert match, out
    return float(match.group(1))


def iperf_bps(lab, target):
    server = lab.spawn("hb", ["iperf3", "-s", "-1", "-p", "5201"])
    time.sleep(0.5)
    try:
        out = sh("iperf3", "-c", target, "-p", "5201", "-t", str(SECONDS), "-J", ns="ha").stdout
    finally:
        server.wait(10)
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"])


def test_overlay_vs_direct_path(lab):
    for attempt in range(60):  # the edges register with the supernode, then learn each other
        if sh("ping", "-c", "1", "-W", "1", "10.210.0.2", ns="ha", check=False).returncode == 0:
            break
    else:
        pytest.fail("the overlay never answered in %d tries" % (attempt + 1))
    direct_ms, overlay_ms = ping_avg_ms("198.51.100.2"), ping_avg_ms("10.210.0.2")
    direct_bps, overlay_bps = iperf_bps(lab, "198.51.100.2"), iperf_bps(lab, "10.210.0.2")
    assert min(direct_ms, overlay_ms) > 0 and min(direct_bps, overlay_bps) > 0
    print("\nN2N v1 overlay vs direct path through both NATs (one run):")
    print("  latency    direct %.3f ms, overlay %.3f ms, ratio overlay/direct %.2f"
          % (direct_ms, overlay_ms, overlay_ms / direct_ms))
    print("  throughput direct %.1f Mbit/s, overlay %.1f Mbit/s, ratio overlay/direct %.3f"
          % (direct_bps / 1e6, overlay_bps / 1e6, overlay_bps / direct_bps))
