# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import time

import pytest

from ansible_collections.cmc.mvc.plugins.plugin_utils import _progress


@pytest.fixture
def shown(monkeypatch):
    lines = []
    monkeypatch.setattr(_progress.display, "display", lines.append)
    return lines


def test_lines_come_while_the_block_runs_and_stop_when_it_ends(shown):
    with _progress.lines_while_running("node-1: installing", 0.05):
        time.sleep(0.3)
    during = list(shown)
    time.sleep(0.15)
    assert len(during) >= 2, during
    assert all(line.startswith("node-1: installing: ") and line.endswith(" s so far") for line in during), during
    assert shown == during  # nothing after the block


def test_a_block_that_fails_still_stops_its_lines(shown):
    with pytest.raises(RuntimeError):
        with _progress.lines_while_running("x", 0.05):
            raise RuntimeError("module failed")
    time.sleep(0.15)
    assert not shown


def test_an_interval_of_zero_prints_nothing(shown):
    with _progress.lines_while_running("x", 0):
        time.sleep(0.1)
    assert not shown
