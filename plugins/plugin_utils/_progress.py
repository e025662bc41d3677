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
