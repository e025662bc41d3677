# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import time
from unittest import mock

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


def action(name, args):
    """The collection's action plugin ``name`` on a task with ``args``; its module call is replaced by the test."""
    module = __import__("ansible_collections.cmc.mvc.plugins.action." + name, fromlist=["ActionModule"])
    task = mock.MagicMock(args=args, async_val=0, check_mode=False)
    return module.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                               shared_loader_obj=None)


def test_the_xl_domain_action_names_the_domain_and_reports_a_lock_wait(shown):
    act = action("xl_domain", {"name": "c01", "state": "running", "progress_interval": 1})

    def module_call(module_name, module_args, task_vars):
        time.sleep(1.3)  # one line at 1 s
        return {"changed": True, "lock_wait_s": 42, "module": module_name, "args": module_args}

    act._execute_module = module_call
    result = act.run(task_vars={"inventory_hostname": "c01@dom0-a"})
    assert result["module"] == "cmc.mvc.xl_domain" and result["args"]["name"] == "c01" and result["changed"]
    assert shown == ["c01@dom0-a: domain c01 to running: 1 s so far",
                     "c01@dom0-a: domain c01 to running: first waited 42 s for another run's lock on it"], shown


def test_no_lock_line_without_a_wait_and_a_bad_interval_is_refused_before_the_module(shown):
    act = action("guest_rootfs", {"hostname": "c01", "disk": "/d/c01.img", "progress_interval": 0})
    act._execute_module = lambda module_name, module_args, task_vars: {"changed": False, "lock_wait_s": 0}
    assert act.run(task_vars={"inventory_hostname": "c01@dom0-a"})["changed"] is False
    assert not shown
    act = action("guest_rootfs", {"hostname": "c01", "disk": "/d/c01.img", "progress_interval": "soon"})
    act._execute_module = mock.Mock()
    result = act.run(task_vars={})
    assert result["failed"] and "progress_interval" in result["msg"] and not act._execute_module.called
