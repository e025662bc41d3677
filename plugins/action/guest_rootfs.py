# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of cmc.mvc.guest_rootfs: the module, with a progress line every progress_interval seconds while it runs."""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase

from ansible_collections.cmc.mvc.plugins.plugin_utils._progress import lines_while_running


class ActionModule(ActionBase):
    """Runs the module on the target; the controller prints how long the install has taken so far."""

    TRANSFERS_FILES = False

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        try:
            interval = int(args.get("progress_interval", 15))
        except (TypeError, ValueError):
            return dict(result, failed=True, msg="progress_interval: a whole number of seconds")
        what = "%s: installing %s onto %s (a Dom0's first node also makes its base image)" % (
            task_vars.get("inventory_hostname", "?"), args.get("hostname", "?"), args.get("disk", "?"))
        with lines_while_running(what, interval):
            result.update(self._execute_module(module_name="cmc.mvc.guest_rootfs", module_args=dict(args),
                                               task_vars=task_vars))
        return result
