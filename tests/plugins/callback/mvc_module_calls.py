# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests only: counts the module calls that reach each remote host, for the deploy benchmark."""
from __future__ import annotations

DOCUMENTATION = r"""
name: mvc_module_calls
type: aggregate
short_description: Counts the module calls that reach each remote host (cmc.mvc tests)
description:
  - Writes, at the end of the run, a JSON object of host -> number of task results (each loop item counts once)
    that ran for that host, leaving out skipped ones, actions that run on the controller only, and tasks
    delegated to localhost. A task delegated to a remote host counts for the host it ran for.
  - Enabled by the deploy benchmark with E(ANSIBLE_CALLBACKS_ENABLED) and E(MVC_MODULE_CALLS_FILE).
options:
  path:
    description: Where to write the counts.
    env:
      - name: MVC_MODULE_CALLS_FILE
    required: true
"""

import json
import os

from ansible.plugins.callback import CallbackBase

# Action plugins that never run a module on the target.
CONTROLLER_ONLY = {
    "add_host", "assert", "debug", "fail", "group_by", "include_role", "include_tasks", "include_vars",
    "validate_argument_spec",
    "import_role", "import_tasks", "meta", "pause", "set_fact", "set_stats", "wait_for_connection",
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "mvc_module_calls"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.calls = {}

    def _count(self, result):
        action = result._task.action.rsplit(".", 1)[-1]
        res = result._result
        if action in CONTROLLER_ONLY or res.get("skipped"):
            return
        items = res["results"] if isinstance(res.get("results"), list) else [res]
        n = sum(1 for r in items if not r.get("skipped"))
        delegated = next((r["_ansible_delegated_vars"] for r in [res] + items if r.get("_ansible_delegated_vars")), {})
        if delegated.get("ansible_connection") == "local" or result._task.delegate_to in ("localhost", "127.0.0.1"):
            return
        # A call delegated to a remote host counts for the host of the task (deploy_mvc's <node>@<Dom0>).
        host = result._host.get_name()
        self.calls[host] = self.calls.get(host, 0) + n

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        path = self.get_option("path")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.calls, f, indent=1, sort_keys=True)
