# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import shutil
import struct

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _initrd

DEP = """kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/drivers/block/xen-blkfront.ko:
kernel/drivers/net/xen-netfront.ko.xz:
"""


def elf(static=True):
    """A 64-bit little-endian ELF header with one program header: PT_LOAD, or PT_INTERP (dynamic)."""
    head = bytearray(64 + 56)
    head[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", head, 0x20, 64)
    struct.pack_into("<HH", head, 0x36, 56, 1)
    struct.pack_into("<I", head, 64, 1 if static else 3)
    return bytes(head)


@pytest.fixture
def release(tmp_path):
    rel = tmp_path / "6.1.0-99-amd64"
    for line in DEP.splitlines():
        path = rel / line.split(":")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        data = ("stand-in %s\n" % path.name).encode()
        path.write_bytes(_initrd.lzma.compress(data) if path.name.endswith(".xz") else data)
    (rel / "modules.dep").write_text(DEP)
    (rel / "modules.softdep").write_text("softdep ext4 pre: crypto-crc32c post: nothing\n")
    (rel / "modules.alias").write_text("alias crypto-crc32c crc32c_generic\nalias crypto-crc32c crc32c_intel\n")
    (rel / "modules.builtin").write_text("kernel/fs/unix.ko\n")
    bb = tmp_path / "busybox"
    bb.write_bytes(elf())
    return rel, bb


def unpack(data):
    """name -> (mode, content) of a newc archive."""
    raw, out, pos = gzip.decompress(data), {}, 0
    while True:
        assert raw[pos:pos + 6] == b"070701"
        fields = [int(raw[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = raw[pos + 110: pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (fields[1], raw[pos:pos + filesize], (fields[9], fields[10]))
        pos += filesize
        pos += -pos % 4


def test_modules_load_after_their_dependencies_and_soft_dependencies(release):
    rel, _bb = release
    order = _initrd.load_order(str(rel), ["xen-blkfront", "xen_netfront", "ext4", "unix"])
    assert order == ["kernel/drivers/block/xen-blkfront.ko", "kernel/drivers/net/xen-netfront.ko.xz",
                     "kernel/crypto/crc32c_generic.ko", "kernel/arch/x86/crypto/crc32c-intel.ko",
                     "kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko", "kernel/lib/crc16.ko", "kernel/fs/ext4/ext4.ko"]


def test_an_unknown_module_is_named(release):
    rel, _bb = release
    with pytest.raises(_initrd.InitrdError, match="^modules: nfs is neither a module nor built into kernel 6.1.0-99"):
        _initrd.load_order(str(rel), ["ext4", "nfs"])
    with pytest.raises(_initrd.InitrdError, match="^modules: 'ext4; reboot' is not a module name"):
        _initrd.load_order(str(rel), ["ext4; reboot"])


def test_the_archive_holds_init_busybox_and_the_modules_and_is_the_same_each_time(release):
    rel, bb = release
    data, order = _initrd.build(str(rel), ["ext4", "xen-netfront"], str(bb))
    files = unpack(data)
    assert files["init"][0] == 0o100755 and files["init"][1].startswith(b"#!/bin/sh\n")
    assert files["bin/busybox"][1] == elf()
    assert files["bin/switch_root"] == (0o120777, b"busybox", (0, 0))
    assert files["dev/console"][0] == 0o020600 and files["dev/console"][2] == (5, 1)
    assert files["lib/modules/xen-netfront.ko"][1] == b"stand-in xen-netfront.ko.xz\n"  # unpacked from xz
    assert files["etc/modules.load"][1].decode().split() == [p.rsplit("/", 1)[1].split(".ko")[0] + ".ko" for p in order]
    assert _initrd.build(str(rel), ["ext4", "xen-netfront"], str(bb))[0] == data


def test_busybox_must_be_static_and_present(release, tmp_path):
    rel, bb = release
    bb.write_bytes(elf(static=False))
    with pytest.raises(_initrd.InitrdError, match="^busybox: .* is not a static executable; install Debian's busybox-static"):
        _initrd.build(str(rel), ["ext4"], str(bb))
    with pytest.raises(_initrd.InitrdError, match="^busybox: cannot read"):
        _initrd.build(str(rel), ["ext4"], str(tmp_path / "nope"))


def test_zstd_modules_are_refused_by_name(release):
    rel, bb = release
    zst = rel / "kernel/fs/ext4/ext4.ko"
    shutil.move(str(zst), str(zst) + ".zst")
    (rel / "modules.dep").write_text(DEP.replace("ext4.ko:", "ext4.ko.zst:"))
    with pytest.raises(_initrd.InitrdError, match="^modules: ext4.ko.zst is zstd-compressed"):
        _initrd.build(str(rel), ["ext4"], str(bb))
