# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the module tests that run a module's main() in-process."""
from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture
def run_module(capsys):
    """run_module(module, check_mode=False, diff=False, **args): the module's JSON result, plus ``rc`` (its exit
    code) and ``text`` (all it printed, to look for secrets in)."""
    def run(module, check_mode=False, diff=False, **args):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        if diff:
            args["_ansible_diff"] = True
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exit_:
                module.main()
        text = capsys.readouterr().out
        out = json.loads(text)
        out["rc"], out["text"] = exit_.value.code, text
        return out
    return run


@pytest.fixture
def fake_command(tmp_path, monkeypatch):
    """fake_command(name, script): ``script`` installed as the executable ``name`` in a directory put first on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", "%s%s%s" % (bindir, os.pathsep, os.environ["PATH"]))

    def install(name, script):
        path = bindir / name
        path.write_text(script)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path
    return install
