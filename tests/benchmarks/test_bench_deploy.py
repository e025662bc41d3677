# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy benchmark, from the end-to-end run on the lab in this same pytest run (tests/system/lab/test_deploy_mvc.py
writes its timings):
- the deploy of a 4-node cluster over 2 sites divided by the slowest domain's boot-to-SSH time in it (systemd's
  clock in each domain); all the deploy's other work counts against it, so the serial lower bound is the number
  of nodes times that, and a deploy with no overhead and full parallelism would be 1;
- the same deploy divided by a deploy that creates one domain (one create-to-SSH plus a deploy's fixed work);
- the identical re-run divided by the first run;
- the module calls that reach the Dom0s per node in the deploy and in a re-run, and each call's cost in the re-run
  (a counting callback, tests/plugins/callback/mvc_module_calls.py), beside the counts of earlier runs kept in
  module_calls_reference.json, so that a task added per node shows. The lab tests run under mitogen; the same
  re-run under plain Ansible is no longer measured in CI (568 s against 118 s, mitogen / plain 0.21, in the
  clean-clone run of 2026-12-02: about 9.5 minutes of CI);
- each domain's boot-to-SSH time divided by the raw operation measured on the same lab in this run
  (tests/system/lab/test_domains_create_concurrency.py): ``xl create`` of a busybox domain until it answers ping."""
from __future__ import annotations

import json
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMINGS = os.path.join(TOP, "tests", "output", "deploy-timings.json")
CREATE_TIMINGS = os.path.join(TOP, "tests", "output", "create-timings.json")
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_calls_reference.json")


def test_deploy_time_ratios():
    assert os.path.isfile(TIMINGS), "no timings: the end-to-end deploy test did not complete in this run"
    with open(TIMINGS) as f:
        t = json.load(f)
    assert t["deploy_s"] > 0 and t["one_domain_s"] > 0 and t["rerun_s"] > 0 and len(t["boot_to_ssh_s"]) == t["nodes"]
    slowest = max(t["boot_to_ssh_s"].values())
    print("\ndeploy of %d nodes over 2 sites: %.0f s; deploy creating 1 domain: %.0f s; identical re-run: %.0f s"
          % (t["nodes"], t["deploy_s"], t["one_domain_s"], t["rerun_s"]))
    print("boot to SSH per domain: %s" % ", ".join("%s %.0f s" % kv for kv in sorted(t["boot_to_ssh_s"].items())))
    print("ratio deploy / slowest domain's boot-to-SSH: %.1f (serial lower bound %d)" % (t["deploy_s"] / slowest, t["nodes"]))
    print("ratio deploy / one-domain deploy: %.2f (serial would be about %d)" % (t["deploy_s"] / t["one_domain_s"], t["nodes"]))
    print("ratio re-run / first run: %.2f" % (t["rerun_s"] / t["deploy_s"]))
    nodes = t["nodes"]
    deploy_calls, rerun_calls = t["deploy_dom0_calls"], t["rerun_dom0_calls"]
    assert sum(rerun_calls.values()) > 0, t
    print("module calls on the Dom0s per node: deploy %.1f, unchanged re-run %.1f (per Dom0: %s)"
          % (sum(deploy_calls.values()) / nodes, sum(rerun_calls.values()) / nodes,
             ", ".join("%s %d" % kv for kv in sorted(rerun_calls.items()))))
    with open(REFERENCE) as f:
        ref = json.load(f)
    print("module calls per node, before / reference / this run: deploy - / %.1f / %.1f, re-run %.1f / %.1f / %.1f "
          "(before: %s; reference: %s)"
          % (ref["reference"]["deploy"], sum(deploy_calls.values()) / nodes, ref["before"]["rerun"],
             ref["reference"]["rerun"], sum(rerun_calls.values()) / nodes, ref["before"]["when"], ref["reference"]["when"]))
    busiest = max(rerun_calls.values())  # the Dom0s work in parallel: the busiest one sets the pace
    print("re-run seconds per module call of the busiest Dom0: %.2f s" % (t["rerun_s"] / busiest))
    assert os.path.isfile(CREATE_TIMINGS), "no raw xl create timing: the create test on the lab did not complete in this run"
    with open(CREATE_TIMINGS) as f:
        raw = json.load(f)["raw"]["serial"]["1"]
    print("raw xl create of a busybox domain until it answers ping: %.0f s" % raw)
    print("ratio boot-to-SSH / raw xl create-to-ping, per domain: %s"
          % ", ".join("%s %.1f" % (name, s / raw) for name, s in sorted(t["boot_to_ssh_s"].items())))
