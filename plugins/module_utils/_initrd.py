# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the small initrd that boots a guest with its Dom0's kernel, built in Python.

mkinitramfs took about 3 minutes per Dom0 under emulation for an initrd that only loads three drivers and
mounts the root filesystem. This writes the same job as a gzip'd cpio (newc) archive: a static busybox, the
modules with their dependencies in load order, and a short /init. The bytes depend only on the inputs (no
timestamps), so an unchanged initrd is recognised by its content."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import stat
import struct
import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

_MODULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUFFIXES = (".ko", ".ko.xz", ".ko.gz")

INIT = r"""#!/bin/sh
# cmc.mvc guest initrd: load the drivers, mount the root filesystem named on the kernel command line, run its init.
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null || echo "cmc.mvc initrd: insmod $m failed"; done < /etc/modules.load
root=/dev/xvda fstype=auto flags=ro init=/sbin/init
for arg in $(cat /proc/cmdline); do
  case $arg in
    root=*) root=${arg#root=} ;;
    rootfstype=*) fstype=${arg#rootfstype=} ;;
    init=*) init=${arg#init=} ;;
    ro) flags=ro ;;
    rw) flags=rw ;;
  esac
done
case $root in LABEL=*|UUID=*) dev= ;; *) dev=$root ;; esac
i=0
while :; do
  [ -n "$dev" ] || dev=$(findfs "$root" 2>/dev/null)
  [ -n "$dev" ] && [ -b "$dev" ] && break
  i=$((i + 1))
  if [ "$i" -gt 60 ]; then echo "cmc.mvc initrd: no root device $root after 60 s"; exec sh; fi
  case $root in LABEL=*|UUID=*) dev= ;; esac
  sleep 1
done
echo "cmc.mvc initrd: mounting $dev on / ($flags)"
mount -t "$fstype" -o "$flags" "$dev" /root || { echo "cmc.mvc initrd: cannot mount $dev"; exec sh; }
for d in dev proc sys; do mount --move "/$d" "/root/$d"; done
exec switch_root /root "$init"
"""

APPLETS = ("sh", "mount", "insmod", "findfs", "sleep", "cat", "echo", "switch_root")


# Bad input for the guest initrd, naming the option.
InitrdError = FieldError


def _key(name: str) -> str:
    return name.replace("-", "_")


def _strip(path: str) -> str:
    base = os.path.basename(path)
    for suffix in _SUFFIXES + (".ko.zst",):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def read_module_index(
    release_dir: str,
) -> tuple[dict[str, tuple[str, list[str]]], dict[str, list[str]], dict[str, list[str]], set[str]]:
    """modules.dep, softdeps and aliases of one kernel release, keyed by module name with '_' for '-'."""
    deps: dict[str, tuple[str, list[str]]] = {}
    soft: dict[str, list[str]] = {}
    aliases: dict[str, list[str]] = {}
    builtin: set[str] = set()
    with open(os.path.join(release_dir, "modules.dep")) as f:
        for line in f:
            path, _sep, rest = line.strip().partition(":")
            if path:
                deps[_key(_strip(path))] = (path, rest.split())
    for name in ("modules.softdep", "modules.alias", "modules.builtin"):
        try:
            with open(os.path.join(release_dir, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split()
            if name == "modules.softdep" and len(words) > 2 and words[0] == "softdep":
                pre = words[words.index("pre:") + 1:] if "pre:" in words else []
                pre = pre[: pre.index("post:")] if "post:" in pre else pre
                soft[_key(words[1])] = pre
            elif name == "modules.alias" and len(words) == 3 and words[0] == "alias":
                aliases.setdefault(words[1], []).append(_key(words[2]))
            elif name == "modules.builtin" and words:
                builtin.add(_key(_strip(words[0])))
    return deps, soft, aliases, builtin


def load_order(release_dir: str, names: t.Sequence[str]) -> list[str]:
    """Module files relative to ``release_dir`` in the order to load them: dependencies and soft
    dependencies (for example the crc32c that ext4 asks for) before the module. Built-in modules need no
    file. Unknown names fail, naming the option."""
    deps, soft, aliases, builtin = read_module_index(release_dir)
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, required: bool) -> None:
        key = _key(name)
        if key in seen or key in builtin:
            return
        if key not in deps:
            if required:
                raise InitrdError("modules", "%s is neither a module nor built into kernel %s"
                                  % (name, os.path.basename(release_dir)))
            return
        seen.add(key)
        for pre in soft.get(key, []):
            for target in aliases.get(pre, [pre]):
                visit(target, False)
        path, needs = deps[key]
        for dep in reversed(needs):
            visit(_strip(dep), True)
        order.append(path)

    for name in names:
        if not _MODULE_NAME.fullmatch(name):
            raise InitrdError("modules", "%r is not a module name" % name[:40])
        visit(name, True)
    return order


def is_static_elf(data: bytes) -> bool:
    """True for an ELF executable without an interpreter (PT_INTERP), which runs with no libraries."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    endian = "<" if data[5] == 1 else ">"
    phoff, = struct.unpack_from(endian + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    for i in range(phnum):
        p_type, = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if p_type == 3:
            return False
    return True


class Cpio:
    """A cpio archive in the newc format that the kernel unpacks, with fixed owners and times."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        head = b"070701" + b"".join(b"%08X" % v for v in fields) + encoded
        self.parts.append(head + b"\0" * (-len(head) % 4))
        self.parts.append(data + b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def bytes(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.parts)


def module_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        raise InitrdError("modules", "%s is zstd-compressed, which this initrd cannot unpack" % os.path.basename(path))
    return data


def build(release_dir: str, names: t.Sequence[str], busybox: str) -> tuple[bytes, list[str]]:
    """The gzip'd initrd and the module files it loads, in order."""
    order = load_order(release_dir, names)
    try:
        with open(busybox, "rb") as f:
            bb = f.read()
    except OSError as e:
        raise InitrdError("busybox", "cannot read %s (%s); install Debian's busybox-static" % (busybox, e.strerror))
    if not is_static_elf(bb):
        raise InitrdError("busybox", "%s is not a static executable; install Debian's busybox-static" % busybox)
    archive = Cpio()
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "root", "sys"):
        archive.directory(d)
    archive.chardev("dev/console", 5, 1)
    archive.file("bin/busybox", bb, 0o755)
    for applet in APPLETS:
        archive.symlink("bin/" + applet, "busybox")
    files = []
    for path in order:
        name = _strip(path) + ".ko"
        archive.file("lib/modules/" + name, module_bytes(os.path.join(release_dir, path)))
        files.append(name)
    archive.file("etc/modules.load", "".join(f + "\n" for f in files).encode())
    archive.file("init", INIT.encode(), 0o755)
    return gzip.compress(archive.bytes(), compresslevel=6, mtime=0), order
