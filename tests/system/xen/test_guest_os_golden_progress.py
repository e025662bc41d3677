# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The golden image's build shows lines while its long steps run (debootstrap, then packing), polled every
guest_os_progress_interval seconds, and runs them unpolled with 0. A slow stand-in for debootstrap on PATH makes
the tree; the real one is run by test_guest_os_image.py and the lab tests."""
from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Build the golden image on the controller
      ansible.builtin.include_role:
        name: cmc.mvc.guest_os
        tasks_from: controller_golden
"""

# debootstrap [options] SUITE TARGET MIRROR: writes a small tree at TARGET, slowly.
STANDIN = """#!/usr/bin/env python3
import os, sys, time
target = sys.argv[-2]
for d in ("usr/bin", "etc/systemd/system", "var/cache/apt/archives", "var/lib/apt/lists"):
    os.makedirs(os.path.join(target, d), exist_ok=True)
with open(os.path.join(target, "etc", "os-release"), "w") as f:
    f.write("stand-in for %s\\n" % " ".join(sys.argv[1:]))
time.sleep(float(os.environ["STANDIN_SECONDS"]))
"""


@pytest.fixture
def build(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "debootstrap").write_text(STANDIN)
    (bin_dir / "debootstrap").chmod(0o755)
    (tmp_path / "play.yml").write_text(PLAY)

    def run(interval, seconds, *extra):
        cache = tmp_path / ("cache-%d" % interval)
        variables = {"guest_os_controller_cache_dir": str(cache), "guest_os_progress_interval": interval,
                     "guest_os_mirror": "http://127.0.0.1:9/debian"}
        env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), STANDIN_SECONDS=str(seconds))
        p = subprocess.run(["ansible-playbook", str(tmp_path / "play.yml"), "-e", json.dumps(variables)] + list(extra),
                           capture_output=True, text=True, check=False, env=env, timeout=300)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        return p.stdout, cache

    return run


def step(out, name):
    """The output of task ``name``, from its header to the next task's."""
    start = out.index("TASK [cmc.mvc.guest_os : %s]" % name)
    return out[start:out.index("TASK [", start + 1)]


def test_debootstrap_shows_a_poll_line_every_interval_while_it_runs(build):
    out, cache = build(1, 4)
    polls = step(out, "Install the OS into a fresh tree with debootstrap").count("ASYNC POLL on localhost:")
    assert polls >= 2, out
    # Packing the stand-in's small tree ends before the first poll: polled all the same.
    assert "ASYNC OK on localhost:" in step(out, "Pack the tree (written under a temporary name, so a half-built "
                                                 "tarball is never used)")
    [golden] = [p for p in os.listdir(cache) if p.endswith(".tar.gz")]
    with tarfile.open(cache / golden) as tar:
        assert "./etc/os-release" in tar.getnames() and "./etc/machine-id" in tar.getnames()
    assert sorted(os.listdir(cache)) == [golden]  # no build tree or partial tarball left


def test_an_interval_of_zero_runs_the_steps_unpolled(build):
    out, cache = build(0, 1)
    assert "ASYNC" not in out, out
    assert len([p for p in os.listdir(cache) if p.endswith(".tar.gz")]) == 1


def test_check_mode_runs_neither_step_and_builds_nothing(build):
    out, cache = build(1, 1, "--check")
    assert "skipping: [localhost]" in step(out, "Install the OS into a fresh tree with debootstrap"), out
    assert not cache.exists() or os.listdir(cache) == [], os.listdir(cache)
