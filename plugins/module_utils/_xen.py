# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for the output of Xen's ``xl`` and the domain lifecycle decisions built on them.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
It runs on Dom0s, so it uses the standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import tempfile
import time
import typing as t

# xl prints ``r b p s c d`` (running, blocked, paused, shutdown, crashed, dying) as a six-column field.
_STATE_RE = re.compile(r"^[r-][b-][p-][s-][c-][d-]$")
_INFO_RE = re.compile(r"^(\w+)\s*:\s?(.*)$")


class XlError(ValueError):
    """Output of ``xl`` that cannot be read."""


def root_hint(euid: int | None = None) -> str:
    """What to add to a failed ``xl`` call's message when the module does not run as root (``xl`` needs root:
    the inventory's user is not root and does not escalate)."""
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return ""
    return ("; xl needs root and this runs as uid %d: log in to the Dom0 as root, or set ansible_become: true "
            "(sudo) for it in the inventory" % euid)


def parse_list(text: str) -> dict[str, dict[str, t.Any]]:
    """Domains from ``xl list``: name -> dict(id, memory_mb, vcpus, state, flags, time_s).

    The header is ``Name ID Mem VCPUs State Time(s)``; a name is the row minus its last five fields, read from
    the right so that nothing depends on column widths, which xl sizes to the longest name.
    """
    domains: dict[str, dict[str, t.Any]] = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Name"):
        raise XlError("xl list: no 'Name ID Mem VCPUs State Time(s)' header in %r" % text[:200])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) < 6:
            raise XlError("xl list: cannot read row %r" % line)
        name = " ".join(fields[:-5])
        dom_id, mem, vcpus, flags, time_s = fields[-5:]
        if not _STATE_RE.match(flags):
            raise XlError("xl list: bad state field %r in row %r" % (flags, line))
        domains[name] = dict(id=int(dom_id), memory_mb=int(mem), vcpus=int(vcpus), flags=flags,
                             state=state_of(flags), time_s=float(time_s))
    return domains


def state_of(flags: str) -> str:
    """One word for xl's state flags. A domain that is shutting down, crashed or dying is on its way out."""
    for flag, word in (("d", "dying"), ("c", "crashed"), ("s", "shutdown"), ("p", "paused")):
        if flag in flags:
            return word
    return "running"


def parse_info(text: str) -> dict[str, t.Any]:
    """``xl info`` as a dict of strings, with the memory and CPU fields that placement needs as integers."""
    info: dict[str, t.Any] = {}
    for line in text.splitlines():
        match = _INFO_RE.match(line)
        if match:
            info[match.group(1)] = match.group(2).strip()
    if "xen_version" not in info:
        raise XlError("xl info: no xen_version field; is this a Xen Dom0? Output began %r" % text[:200])
    for key in ("total_memory", "free_memory", "nr_cpus"):
        if key in info:
            info[key] = int(info[key])
    return info


def plan(state: str, current: t.Mapping[str, t.Any] | None) -> list[str]:
    """The xl actions that take a domain from ``current`` (an xl list row, or None) to ``state``.

    ``state`` is running, present (files only: the domain is left as it is), stopped or absent. Xen keeps no record of a stopped domain, so stopped and absent
    differ only in what the caller does with the config file.
    """
    if state == "running":
        if current is None:
            return ["create"]
        if current["state"] == "paused":
            return ["unpause"]
        if current["state"] in ("shutdown", "crashed", "dying"):
            return ["destroy", "create"]
        return []
    if state == "present":
        return []
    if state == "stopped":
        return [] if current is None else ["shutdown"]
    if state == "absent":
        return [] if current is None else ["destroy"]
    raise ValueError("state must be running, present, stopped or absent, got %r" % (state,))


def write_atomic(path: str, content: str, mode: int, dir_mode: int = 0o755) -> None:
    """Writes ``content`` to ``path`` through a temporary file beside it, so that no reader sees half a file."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


LOCK_DIR = "/run/lock/cmc-mvc"
# Domain names go into lock and autostart paths: nothing that could leave the directory.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class LockError(RuntimeError):
    """A domain's lock could not be taken."""


class LockTimeout(LockError):
    """Another run kept a domain's lock for too long."""


def lock_domain(name: str, timeout: float = 1800, lock_dir: str | None = None) -> t.TextIO:
    """Takes the Dom0-wide lock of domain ``name`` and returns its open file; the lock lasts until that file is
    closed. A deploy that was killed leaves its module running on the Dom0, and a re-run must not write the same
    disk or create the same domain beside it: it waits here instead. Modules use ``domain_lock``, which closes
    the file when they return: a persistent interpreter (mitogen) never exits between tasks."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise LockError("domain name %r: letters, digits, '.', '-' or '_', at most 64" % (str(name)[:80],))
    lock_dir = lock_dir or LOCK_DIR
    try:
        os.makedirs(lock_dir, mode=0o755, exist_ok=True)
        f = open(os.path.join(lock_dir, name + ".lock"), "a+")
    except OSError as exc:
        raise LockError("cannot open the lock of domain %s in %s: %s" % (name, lock_dir, exc)) from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                f.seek(0)
                holder = f.read().strip() or "unknown"
                f.close()
                raise LockTimeout("domain %s is still locked after %d s by process %s on this Dom0 (an earlier run "
                                  "that is still working?)" % (name, timeout, holder))
            time.sleep(1)
    f.truncate(0)
    f.write("%d\n" % os.getpid())
    f.flush()
    return f


@contextlib.contextmanager
def domain_lock(name: str, timeout: float = 1800, lock_dir: str | None = None) -> t.Iterator[float]:
    """``lock_domain`` for the length of a ``with`` block, released however the block ends. Yields the seconds
    spent waiting for another run to let the lock go, which modules return as ``lock_wait_s``."""
    start = time.monotonic()
    f = lock_domain(name, timeout, lock_dir)
    try:
        yield time.monotonic() - start
    finally:
        f.close()


def domain_files(disk: str, name: str) -> list[str]:
    """The disk file of domain ``name`` and what other roles keep beside it (``<name>.*``, for example the
    guest_os install stamp)."""
    found = set(glob.glob(os.path.join(glob.escape(os.path.dirname(disk)), glob.escape(name) + ".*")))
    if os.path.isfile(disk):
        found.add(disk)
    return sorted(found)
