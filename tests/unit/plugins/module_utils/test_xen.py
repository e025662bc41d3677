# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import threading

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _xen

# Real xl 4.17 output (tools/xl/xl_info.c list_domains: "%-40s %5s %5s %5s %10s %9s" header, tab-separated
# in some releases, names padded to 40 columns and longer names pushing the row right).
XL_LIST = (
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
    "Domain-0                                     0  1024     1     r-----      38.2\n"
    "lab1-fe                                      3   512     1     -b----       4.9\n"
    "a-very-long-domain-name-of-a-virtual-cluster-node-0001   7   256     2     --p---       0.0\n"
    "lab1-c02                                     9   256     1     ---s--       1.0\n"
)

XL_INFO = """host                   : vmc-site1
release                : 6.1.0-37-amd64
version                : #1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22)
machine                : x86_64
nr_cpus                : 2
total_memory           : 3071
free_memory            : 1210
xen_major              : 4
xen_minor              : 17
xen_version            : 4.17.5
xen_caps               : xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64
xen_commandline        : placeholder console=com1 dom0_mem=1024M noreboot
"""


def test_parse_list_reads_every_row_whatever_the_name_length():
    domains = _xen.parse_list(XL_LIST)
    assert list(domains) == ["Domain-0", "lab1-fe", "a-very-long-domain-name-of-a-virtual-cluster-node-0001", "lab1-c02"]
    assert domains["Domain-0"] == dict(id=0, memory_mb=1024, vcpus=1, flags="r-----", state="running", time_s=38.2)
    assert domains["lab1-fe"]["state"] == "running"  # blocked is idle, still running
    assert domains["a-very-long-domain-name-of-a-virtual-cluster-node-0001"]["vcpus"] == 2
    assert domains["a-very-long-domain-name-of-a-virtual-cluster-node-0001"]["state"] == "paused"
    assert domains["lab1-c02"]["state"] == "shutdown"


@pytest.mark.parametrize("text, message", [
    ("", "header"),
    ("libxl: error: cannot init xl context\n", "header"),
    ("Name ID Mem VCPUs State Time(s)\nDomain-0 0 1024\n", "cannot read row"),
    ("Name ID Mem VCPUs State Time(s)\nDomain-0 0 1024 1 running 3.0\n", "bad state field"),
])
def test_parse_list_refuses_what_it_cannot_read(text, message):
    with pytest.raises(_xen.XlError, match=message):
        _xen.parse_list(text)


def test_parse_info_types_the_capacity_fields():
    info = _xen.parse_info(XL_INFO)
    assert info["free_memory"] == 1210 and info["total_memory"] == 3071 and info["nr_cpus"] == 2
    assert info["release"] == "6.1.0-37-amd64"
    assert info["xen_caps"].startswith("xen-3.0-x86_64")
    assert info["version"] == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22)"


def test_parse_info_refuses_a_host_that_is_not_a_dom0():
    with pytest.raises(_xen.XlError, match="not a Xen Dom0|is this a Xen Dom0"):
        _xen.parse_info("xencall: error: Could not obtain handle on privileged command interface\n")


RUNNING = dict(state="running")


@pytest.mark.parametrize("state, current, actions", [
    ("running", None, ["create"]),
    ("running", RUNNING, []),
    ("running", dict(state="paused"), ["unpause"]),
    ("running", dict(state="crashed"), ["destroy", "create"]),
    ("running", dict(state="shutdown"), ["destroy", "create"]),
    ("stopped", None, []),
    ("stopped", RUNNING, ["shutdown"]),
    ("absent", None, []),
    ("absent", RUNNING, ["destroy"]),
    ("absent", dict(state="paused"), ["destroy"]),
])
def test_plan_runs_only_what_the_state_needs(state, current, actions):
    assert _xen.plan(state, current) == actions


def test_plan_refuses_an_unknown_state():
    with pytest.raises(ValueError, match="running, present, stopped or absent"):
        _xen.plan("paused", None)


def test_domain_lock_yields_how_long_it_waited_for_another_run(tmp_path):
    held = _xen.lock_domain("c1-node", lock_dir=str(tmp_path))
    threading.Timer(1.5, held.close).start()  # the other run ends after 1.5 s
    with _xen.domain_lock("c1-node", timeout=30, lock_dir=str(tmp_path)) as waited:
        assert 1.4 < waited < 10
    with _xen.domain_lock("c1-node", timeout=0, lock_dir=str(tmp_path)) as waited:
        assert waited < 0.5


def test_lock_domain_makes_a_second_run_wait_and_names_the_holder(tmp_path):
    held = _xen.lock_domain("c1-node", lock_dir=str(tmp_path))
    with pytest.raises(_xen.LockTimeout, match=r"domain c1-node is still locked after 0 s by process %d" % os.getpid()):
        _xen.lock_domain("c1-node", timeout=0, lock_dir=str(tmp_path))
    other = _xen.lock_domain("c1-other", timeout=0, lock_dir=str(tmp_path))  # one lock per domain
    other.close()
    held.close()  # the run ends (or is killed): the lock goes with it
    again = _xen.lock_domain("c1-node", timeout=0, lock_dir=str(tmp_path))
    assert (tmp_path / "c1-node.lock").read_text() == "%d\n" % os.getpid()
    again.close()


def test_root_hint_says_how_to_escalate_only_when_not_root():
    assert _xen.root_hint(0) == ""
    hint = _xen.root_hint(1001)
    assert "uid 1001" in hint and "ansible_become: true" in hint
