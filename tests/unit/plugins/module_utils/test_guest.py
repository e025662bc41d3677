# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _guest


@pytest.fixture
def params(tmp_path):
    golden = tmp_path / "golden.tar.gz"
    golden.write_bytes(b"")
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"")
    (tmp_path / "modules" / "6.1.0-99-amd64").mkdir(parents=True)
    return dict(hostname="lab1-c01", users=[{"name": "alice"}], files=[{"path": "etc/hostname", "content": "x"}],
                host_key_types=["ed25519"], golden=str(golden), disk=str(disk), modules_dir=str(tmp_path / "modules"),
                kernel_release="6.1.0-99-amd64")


def test_good_input_passes(params):
    _guest.check(params)


@pytest.mark.parametrize("change, field", [
    ({"hostname": "Bad_Name"}, "hostname"),
    ({"users": [{"name": "alice"}, {"name": "Root Admin"}]}, "users[1].name"),
    ({"files": [{"path": "/etc/passwd", "content": ""}]}, "files[0].path"),
    ({"files": [{"path": "etc/../../x", "content": ""}]}, "files[0].path"),
    ({"host_key_types": ["dsa"]}, "host_key_types"),
    ({"kernel_release": "9.9.9"}, "kernel_release"),
])
def test_bad_input_names_the_field(params, change, field):
    params.update(change)
    with pytest.raises(_guest.GuestError) as exc:
        _guest.check(params)
    assert exc.value.field == field and str(exc.value).startswith(field + ": ")


def test_missing_disk_and_golden_are_named(params, tmp_path):
    params["disk"] = str(tmp_path / "nope.img")
    with pytest.raises(_guest.GuestError, match="^disk: .*xen_domain"):
        _guest.check(params)
    params["golden"] = str(tmp_path / "nope.tar.gz")
    with pytest.raises(_guest.GuestError, match="^golden: "):
        _guest.check(params)


def test_write_replaces_a_link_instead_of_following_it(tmp_path):
    outside = tmp_path / "dom0-file"
    outside.write_text("dom0\n")
    (tmp_path / "tree" / "etc").mkdir(parents=True)
    (tmp_path / "tree" / "etc" / "resolv.conf").symlink_to(outside)
    _guest.write(str(tmp_path / "tree" / "etc" / "resolv.conf"), "guest\n", 0o644)
    assert outside.read_text() == "dom0\n"
    assert (tmp_path / "tree" / "etc" / "resolv.conf").read_text() == "guest\n"


def test_stamp_that_is_missing_or_broken_reads_as_none(tmp_path):
    assert _guest.read_stamp(str(tmp_path / "none")) is None
    (tmp_path / "broken").write_text("{")
    assert _guest.read_stamp(str(tmp_path / "broken")) is None
