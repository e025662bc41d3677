# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd_enablement against a recording fake ``systemctl`` on PATH; the real one runs in every lab deploy."""
from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.cmc.mvc.plugins.modules import systemd_enablement

# is-enabled prints the state (rc 0 when enabled in any way, 1 otherwise); a unit with no file prints nothing on
# stdout, as the real one does. enable and disable refuse to run with a reload, theirs or the SysV hook's.
FAKE_SYSTEMCTL = r'''#!%s
import json, os, sys
path = os.environ["FAKE_SYSTEMCTL_STATE"]
st = json.load(open(path))
args = sys.argv[1:]
st["calls"].append(" ".join(args))
units = st["units"]
verb, unit = args[0], args[-1]
rc = 0
if verb == "is-enabled":
    if unit not in units:
        sys.stderr.write("Failed to get unit file state for %%s: No such file or directory\n" %% unit)
        rc = 1
    else:
        print(units[unit])
        rc = 0 if units[unit] in ("enabled", "static", "alias", "indirect") else 1
elif verb in ("enable", "disable"):
    if "--no-reload" not in args or os.environ.get("SYSTEMCTL_SKIP_SYSV") != "1":
        sys.exit(9)
    units[unit] = verb + "d"
json.dump(st, open(path, "w"))
sys.exit(rc)
''' % sys.executable


@pytest.fixture
def systemctl(tmp_path, monkeypatch, fake_command):
    fake_command("systemctl", FAKE_SYSTEMCTL)
    state = tmp_path / "systemctl.json"
    monkeypatch.setenv("FAKE_SYSTEMCTL_STATE", str(state))

    def setup(units):
        state.write_text(json.dumps(dict(units=units, calls=[])))

    def read():
        return json.loads(state.read_text())
    setup.read = read
    return setup


def changing_calls(st):
    return [c for c in st["calls"] if not c.startswith("is-enabled")]


def test_enables_and_disables_without_a_reload(systemctl, run_module):
    systemctl({"munge.service": "enabled", "slurmd.service": "disabled", "slurmctld.service": "enabled"})
    out = run_module(systemd_enablement, diff=True, enabled=["munge.service", "slurmd.service"],
                     disabled=["slurmctld.service"])
    assert out["rc"] == 0 and out["changed"]
    assert out["changed_units"] == ["slurmd.service", "slurmctld.service"]
    assert out["before"] == {"munge.service": "enabled", "slurmd.service": "disabled", "slurmctld.service": "enabled"}
    st = systemctl.read()
    assert changing_calls(st) == ["enable --no-reload -- slurmd.service", "disable --no-reload -- slurmctld.service"]
    assert st["units"] == {"munge.service": "enabled", "slurmd.service": "enabled", "slurmctld.service": "disabled"}
    assert "slurmd.service: disabled\n" in out["diff"]["before"]
    assert "slurmd.service: enabled\n" in out["diff"]["after"]
    assert "slurmctld.service: disabled\n" in out["diff"]["after"]


def test_a_second_run_changes_nothing(systemctl, run_module):
    systemctl({"slurmd.service": "disabled", "slurmctld.service": "enabled"})
    run_module(systemd_enablement, enabled=["slurmd.service"], disabled=["slurmctld.service"])
    out = run_module(systemd_enablement, enabled=["slurmd.service"], disabled=["slurmctld.service"])
    assert out["rc"] == 0 and not out["changed"] and out["changed_units"] == []
    assert len(changing_calls(systemctl.read())) == 2


def test_check_mode_reports_and_changes_nothing(systemctl, run_module):
    systemctl({"slurmd.service": "disabled", "nfs-server.service": "enabled"})
    out = run_module(systemd_enablement, check_mode=True, enabled=["slurmd.service"], disabled=["nfs-server.service"])
    assert out["rc"] == 0 and out["changed"]
    assert out["changed_units"] == ["slurmd.service", "nfs-server.service"]
    st = systemctl.read()
    assert changing_calls(st) == []
    assert st["units"] == {"slurmd.service": "disabled", "nfs-server.service": "enabled"}


def test_static_units_count_as_enabled_and_masked_ones_as_disabled(systemctl, run_module):
    systemctl({"home.mount": "static", "binfmt.service": "masked"})
    out = run_module(systemd_enablement, enabled=["home.mount"], disabled=["binfmt.service"])
    assert out["rc"] == 0 and not out["changed"]
    assert changing_calls(systemctl.read()) == []


@pytest.mark.parametrize("units, args, message", [
    ({"a.service": "disabled", "b.service": "masked"}, dict(enabled=["a.service", "b.service"]),
     "b.service is masked"),
    ({"a.service": "disabled"}, dict(enabled=["a.service", "nope.service"]), "nope.service: no such unit"),
    ({"a.service": "enabled"}, dict(enabled=["a.service"], disabled=["a.service"]),
     "disabled: a.service is also in enabled"),
    ({"a.service": "disabled"}, dict(enabled=["a.service"], disabled=["--now"]), "disabled: '--now' is not a unit"),
])
def test_bad_input_is_named_and_nothing_is_changed(systemctl, run_module, units, args, message):
    systemctl(units)
    out = run_module(systemd_enablement, **args)
    assert out["rc"] == 1 and out["failed"]
    assert message in out["msg"]
    assert changing_calls(systemctl.read()) == []
