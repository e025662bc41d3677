# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of cmc.mvc.guest_rootfs: the module, with a progress line every progress_interval seconds while it runs."""

from __future__ import annotations

import typing as t

from ansible_collections.cmc.mvc.plugins.plugin_utils._progress import ProgressActionBase


class ActionModule(ProgressActionBase):
    """Runs the module on the target; the controller prints how long the install has taken so far."""

    MODULE = "cmc.mvc.guest_rootfs"

    def describe(self, args: t.Mapping[str, t.Any]) -> str:
        return "installing %s onto %s (a Dom0's first node also makes its base image)" % (
            args.get("hostname", "?"), args.get("disk", "?"))
