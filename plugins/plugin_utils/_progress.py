# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines on the controller while one long module call runs on a target.

Note that this plugin util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


@contextlib.contextmanager
def lines_while_running(what: str, interval: float) -> t.Iterator[None]:
    """Prints ``<what>: <N> s so far`` in the normal output every ``interval`` seconds until the block ends.

    A module call cannot print while it runs; the line says what the run is waiting for and for how long.
    ``interval`` of 0 or less prints nothing.
    """
    if interval <= 0:
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while not done.wait(interval):
            display.display("%s: %d s so far" % (what, time.monotonic() - start))

    thread = threading.Thread(target=tick, name="cmc-mvc-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class ProgressActionBase(ActionBase):
    """Runs the module of the same name on the target with ``lines_while_running``, every ``progress_interval``
    seconds (an option of the module, which ignores it), and says afterwards how long the module waited for
    another run's lock (its ``lock_wait_s``): that wait is otherwise silent for up to 30 minutes."""

    TRANSFERS_FILES = False
    MODULE = ""

    def describe(self, args: t.Mapping[str, t.Any]) -> str:
        """What the module call does, for example ``installing c01 onto /var/lib/xen/c01.img``. Each action that
        uses this base says it for its own module (guest_rootfs, xl_domain); the base serves no module itself, so
        it has no words of its own and refuses to be used as it is."""
        raise NotImplementedError("%s must say what its module call does" % type(self).__name__)

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        # Checked here as well as by the module: the lines start before the module checks its arguments.
        try:
            interval = int(args.get("progress_interval", 15))
        except (TypeError, ValueError):
            return dict(result, failed=True, msg="progress_interval: a whole number of seconds")
        what = "%s: %s" % (task_vars.get("inventory_hostname", "?"), self.describe(args))
        with lines_while_running(what, interval):
            result.update(self._execute_module(module_name=self.MODULE, module_args=dict(args), task_vars=task_vars))
        if result.get("lock_wait_s", 0) >= 1:
            display.display("%s: first waited %d s for another run's lock on it" % (what, result["lock_wait_s"]))
        return result
