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
elif args[0] == "create":
    name = re.search(r'^name\s*=\s*"([^"]+)"', open(args[1]).read(), re.M).group(1)
    if st.get("fail_create"):
        sys.stderr.write("libxl: error: bridge missing\n"); sys.exit(3)
    doms[name] = "-b----"
elif args[0] in ("destroy", "shutdown"):
    doms.pop(args[-1], None)
elif args[0] == "unpause":
    doms[args[1]] = "-b----"
json.dump(st, open(path, "w"))
''' % sys.executable


@pytest.fixture
def xl(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "xl"
    script.write_text(FAKE_XL)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "xl.json"

    def set_state(domains=None, **extra):
        state.write_text(json.dumps(dict(domains=domains or {}, calls=[], **extra)))

    def calls():
        return json.loads(state.read_text())["calls"]

    set_state()
    monkeypatch.setenv("FAKE_XL_STATE", str(state))
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    config = tmp_path / "n1.cfg"
    config.write_text('name = "n1"\n')
    return dict(set_state=set_state, calls=calls, config=str(config), auto=str(tmp_path / "auto"))


def run(args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            xl_domain.main()


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
    assert [c for c in xl["calls"]() if c != "list"] == ["create %s" % xl["config"]]


def test_check_mode_reports_and_runs_nothing(xl, capsys):
    run(dict(name="n1", config=xl["config"], autostart_dir=xl["auto"]), check_mode=True)
    res = result(capsys)
    assert res["changed"] and res["actions"] == ["create", "autostart"]
    assert set(xl["calls"]()) == {"list"}
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
    assert res["failed"] and res["msg"].startswith("config: ")
    assert set(xl["calls"]()) <= {"list"}
