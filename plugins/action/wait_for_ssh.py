# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of cmc.mvc.wait_for_ssh: rounds of the module, with a progress line after each round."""

from __future__ import annotations

import time
import typing as t

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    """Polls from the target, prints progress on the controller."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("nodes", "port", "timeout", "interval", "connect_timeout"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        nodes = args.get("nodes") or []
        if not isinstance(nodes, list) or not all(isinstance(n, dict) and n.get("name") and n.get("address") for n in nodes):
            return dict(result, failed=True, msg="nodes: a list of {name, address}")
        try:
            timeout, interval = int(args.get("timeout", 600)), max(1, int(args.get("interval", 15)))
        except (TypeError, ValueError):
            return dict(result, failed=True, msg="timeout, interval: whole numbers of seconds")
        host = task_vars.get("inventory_hostname", "?")
        start = time.monotonic()
        after: dict[str, int] = {}
        pending = list(nodes)
        while True:
            round_start = time.monotonic()
            elapsed = int(round_start - start)
            # The module probes for the whole round and returns as soon as all answer: a node is seen within about
            # a second of its sshd starting, not at the next round.
            probe = self._execute_module(module_name="cmc.mvc.wait_for_ssh", task_vars=task_vars,
                                         module_args=dict(args, nodes=pending,
                                                          probe_for=max(0, min(interval, timeout - elapsed))))
            if probe.get("failed"):
                return dict(result, **probe)
            for name, at in (probe.get("answered_at") or {}).items():
                after[name] = int(round_start - start + at)
            elapsed = int(time.monotonic() - start)
            pending = [n for n in pending if n["name"] not in after]
            if not pending:
                return dict(result, changed=False, answered=[n["name"] for n in nodes], answered_after=after, elapsed=elapsed)
            waiting = ", ".join("%s (%s)" % (n["name"], n["address"]) for n in pending)
            if elapsed >= timeout:
                return dict(result, failed=True, answered=sorted(after), elapsed=elapsed,
                            msg="SSH did not answer within %d s from %s on: %s" % (timeout, host, waiting))
            display.display("%s: SSH answers on %d of %d nodes after %d s; waiting for %s"
                            % (host, len(after), len(nodes), elapsed, waiting))
            time.sleep(max(0.0, min(interval - (time.monotonic() - round_start), timeout - (time.monotonic() - start))))
