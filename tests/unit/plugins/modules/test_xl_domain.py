# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""xl_domain against a recording fake ``xl`` on PATH; the real xl is exercised on the lab (tests/system)."""
from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cmc.mvc.plugins.module_utils import _xen
from ansible_collections.cmc.mvc.plugins.modules import xl_domain

FAKE_XL = r'''#!%s
import json, os, re, sys
path = os.environ["FAKE_XL_STATE"]
st = json.load(open(path))
args = sys.argv[1:]
st["calls"].append(" ".join(args))
doms = st["domains"]
if args[0] == "list":
    print("Name                                        ID   Mem VCPUs\tState\tTime(s)")
    print("Domain-0                                     0  1024     1     r-----      10.0")
    for i, (n, d) in enumerate(sorted(doms.items())):
        print("%%-40s %%5d %%5d %%5d     %%s %%8.1f" %% (n, i + 1, 256, 1, d, 1.0))
elif args[0] == "info":
    print("host                   : dom0\nrelease                : 6.1.0-99-amd64\nnr_cpus                : 2")
    print("total_memory           : 4095\nfree_memory            : %%d\nxen_version            : 4.17.5" %% st.get("free", 1024))
elif args[0] == "create":
    name = re.search(r'^name\s*=\s*"([^"]+)"', open(args[1]).read(), re.M).group(1)
    if st.get("fail_create"):
        sys.stderr.write("libxl: error: bridge missing\n"); sys.exit(3)
    if st.get("hotplug_timeouts", 0) > 0:
        st["hotplug_timeouts"] -= 1
        json.dump(st, open(path, "w"))
        sys.stderr.write("libxl: error: killing execution of /etc/xen/scripts/block add because of timeout\n"); sys.exit(3)
    doms[name] = "-b----"
elif args[0] in ("destroy", "shutdown"):
    doms.pop(args[-1], None)
elif args[0] == "unpause":
    doms[args[1]] = "-b----"
json.dump(st, open(path, "w"))
''' % sys.executable


@pytest.fixture(autouse=True)
def lock_dir(tmp_path, monkeypatch):
    path = tmp_path / "locks"
    monkeypatch.setattr(_xen, "LOCK_DIR", str(path))
    return path


@pytest.fixture
def xl(tmp_path, monkeypatch, fake_command):
    fake_command("xl", FAKE_XL)
    state = tmp_path / "xl.json"

    def set_state(domains=None, **extra):
        state.write_text(json.dumps(dict(domains=domains or {}, calls=[], **extra)))

    def calls():
        return json.loads(state.read_text())["calls"]

    set_state()
    monkeypatch.setenv("FAKE_XL_STATE", str(state))
    config = tmp_path / "n1.cfg"
    config.write_text('name = "n1"\n')
    return dict(set_state=set_state, calls=calls, config=str(config), auto=str(tmp_path / "auto"))


def run(args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            xl_domain.main()
    return exc


def result(capsys):
    return json.loads(capsys.readouterr().out)


def test_creates_a_missing_domain_with_autostart_then_changes_nothing(xl, capsys):
    args = dict(name="n1", config=xl["config"], autostart_dir=xl["auto"])
    run(args)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["create", "autostart"]
    assert res["domain"]["state"] == "running"
    assert os.readlink(os.path.join(xl["auto"], "n1.cfg")) == xl["config"]
    run(args)
    res = result(capsys)
    assert not res["changed"] and res["actions"] == []
    assert [c for c in xl["calls"]() if c not in ("list", "info")] == ["create %s" % xl["config"]]
    assert res["dom0"] == {"release": "6.1.0-99-amd64", "free_memory": 1024, "xen_version": "4.17.5"}


def test_check_mode_reports_and_runs_nothing(xl, capsys):
    run(dict(name="n1", config=xl["config"], autostart_dir=xl["auto"]), check_mode=True)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["create", "autostart"]
    assert set(xl["calls"]()) == {"list", "info"}
    assert not os.path.lexists(os.path.join(xl["auto"], "n1.cfg"))
    assert res["diff"] == {"before": {"state": "not running", "autostart": None},
                           "after": {"state": "running", "autostart": xl["config"]}}


def test_absent_destroys_and_removes_the_link(xl, capsys):
    xl["set_state"]({"n1": "-b----"})
    os.makedirs(xl["auto"])
    os.symlink(xl["config"], os.path.join(xl["auto"], "n1.cfg"))
    run(dict(name="n1", state="absent", autostart_dir=xl["auto"]))
    res = result(capsys)
    assert res["actions"] == ["destroy", "no-autostart"] and res["domain"] is None
    assert not os.path.lexists(os.path.join(xl["auto"], "n1.cfg"))
    run(dict(name="n1", state="absent", autostart_dir=xl["auto"]))
    assert not result(capsys)["changed"]


def test_stopped_shuts_down_and_keeps_the_link(xl, capsys):
    xl["set_state"]({"n1": "-b----"})
    run(dict(name="n1", config=xl["config"], state="stopped", autostart_dir=xl["auto"]))
    res = result(capsys)
    assert res["actions"] == ["shutdown", "autostart"] and res["domain"] is None
    assert "shutdown -w n1" in xl["calls"]()


def test_a_failed_create_is_an_error_with_xl_message(xl, capsys):
    xl["set_state"](fail_create=True)
    run(dict(name="n1", config=xl["config"], autostart_dir=xl["auto"]))
    res = result(capsys)
    assert res["failed"] and "bridge missing" in res["msg"] and "xl create" in res["msg"]


def test_a_missing_config_names_the_option(xl, capsys):
    run(dict(name="n1", config=xl["config"] + ".nope", autostart_dir=xl["auto"]))
    res = result(capsys)
    assert res["failed"] and res["msg"].startswith("config: ") and res["field"] == "config"
    assert set(xl["calls"]()) <= {"list", "info"}


def present_args(xl, tmp_path, **extra):
    bridge = tmp_path / "nobridge"
    args = dict(name="n1", config=str(tmp_path / "etc" / "c1" / "n1.cfg"), config_content='name = "n1"\n',
                disk=str(tmp_path / "disks" / "c1" / "n1.img"), disk_size_gb=1, memory_mb=256,
                state="present", autostart_dir=xl["auto"])
    args.update(extra)
    return args


def test_present_writes_config_and_sparse_disk_then_changes_nothing(xl, tmp_path, capsys):
    args = present_args(xl, tmp_path)
    run(args)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["config", "disk"] and res["running_before"] is False
    assert open(args["config"]).read() == 'name = "n1"\n'
    st = os.stat(args["disk"])
    assert st.st_size == 1024 ** 3 and st.st_blocks == 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert res["diff"]["after"]["config"] == 'name = "n1"\n' and res["diff"]["before"]["config"] == ""
    assert not os.path.lexists(xl["auto"])  # present leaves the domain and its autostart link alone
    run(args)
    assert not result(capsys)["changed"]
    assert [c for c in xl["calls"]() if c not in ("list", "info")] == []


def test_present_in_check_mode_writes_nothing(xl, tmp_path, capsys):
    args = present_args(xl, tmp_path)
    run(args, check_mode=True)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["config", "disk"]
    assert not os.path.exists(os.path.dirname(args["config"])) and not os.path.exists(os.path.dirname(args["disk"]))


@pytest.mark.parametrize("extra, field", [
    (dict(memory_mb=4096), "memory_mb"),
    (dict(bridge="mvc-no-such-bridge"), "bridge"),
    (dict(disk_size_gb=0), "disk_size_gb"),
])
def test_a_refused_domain_names_the_option_and_leaves_nothing(xl, tmp_path, capsys, extra, field):
    args = present_args(xl, tmp_path, **extra)
    run(args)
    res = result(capsys)
    assert res["failed"] and res["field"] == field and res["msg"].startswith(field + ": "), res
    assert not os.path.exists(os.path.dirname(args["config"])) and not os.path.exists(os.path.dirname(args["disk"]))
    assert [c for c in xl["calls"]() if c not in ("list", "info")] == []


def test_memory_is_not_checked_for_a_domain_that_runs(xl, tmp_path, capsys):
    xl["set_state"]({"n1": "-b----"}, free=0)
    args = present_args(xl, tmp_path, state="running", memory_mb=4096)
    run(args)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["config", "disk", "autostart"] and res["running_before"]
    assert "takes effect at its next xl create" in json.dumps(res.get("warnings")), res


def test_absent_with_purge_removes_config_disk_and_what_is_beside_it(xl, tmp_path, capsys):
    args = present_args(xl, tmp_path)
    run(args)
    result(capsys)
    other = os.path.join(os.path.dirname(args["disk"]), "n10.img")  # another domain's disk stays
    open(other, "w").close()
    stamp = os.path.join(os.path.dirname(args["disk"]), "n1.os")
    open(stamp, "w").close()
    run(dict(args, state="absent", purge=True))
    res = result(capsys)
    assert res["actions"] == ["purge"] and sorted(res["removed"]) == sorted([args["config"], args["disk"], stamp])
    assert os.listdir(os.path.dirname(args["disk"])) == ["n10.img"]
    assert not os.path.exists(os.path.dirname(args["config"]))
    run(dict(args, state="absent", purge=True))
    assert not result(capsys)["changed"]


def test_the_lock_is_released_when_the_module_returns_in_the_same_interpreter(xl, capsys):
    # A persistent interpreter (mitogen) runs the next task in the same process, and keeps the last one's
    # traceback and frames alive: the lock must not wait for the process to end or the frames to go.
    args = dict(name="n1", config=xl["config"], autostart_dir=xl["auto"])
    first = run(args)
    assert result(capsys)["changed"]
    with _xen.domain_lock("n1", timeout=0):
        pass
    second = run(dict(args, state="absent"))
    assert result(capsys)["actions"] == ["destroy", "no-autostart"]
    assert first.value.code == second.value.code == 0
    failed = run(dict(args, config=xl["config"] + ".nope"))  # a failure releases it too
    assert result(capsys)["failed"] and failed.value.code == 1
    with _xen.domain_lock("n1", timeout=0):
        pass


def test_a_name_that_could_leave_the_lock_directory_is_refused(xl, capsys, lock_dir):
    run(dict(name="../n1", config=xl["config"], autostart_dir=xl["auto"]))
    res = result(capsys)
    assert res["failed"] and res["field"] == "name" and res["msg"].startswith("name: ")
    assert not lock_dir.exists() and xl["calls"]() == []


@pytest.mark.parametrize("timeouts, ok", [(1, True), (2, False)])
def test_a_hotplug_timeout_is_tried_once_more(xl, capsys, timeouts, ok):
    xl["set_state"](hotplug_timeouts=timeouts)
    run(dict(name="n1", config=xl["config"], autostart_dir=xl["auto"]))
    res = result(capsys)
    assert [c for c in xl["calls"]() if c.startswith("create")] == ["create %s" % xl["config"]] * 2
    assert "hotplug script timed out" in json.dumps(res.get("warnings"))
    if ok:
        assert res["changed"] and res["domain"]["state"] == "running"
    else:
        assert res["failed"] and "because of timeout" in res["msg"]
