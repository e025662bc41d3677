# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for the Rocks command line (``rocks list ...``) and the per-site model built from them.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Over 400 lines: the parsers of every output format (text tables of Rocks 5.0 to 7, ``json=true``) share the
column rules below and feed the one site model, so they stay together.

Text tables (every release, ``rocks/commands/__init__.py`` ``endOutput``/``outputRow``):

* the header is the upper-cased column names, each cell (header too) ``ljust`` to the column width and
  joined by ONE space, so every line carries trailing spaces;
* the first column is the owner (``host:``); it and its header word vanish when every row has the same
  owner (``trimOwner``), except for commands that pass ``trimOwner=0`` (``list host attr``);
* NULL or empty cells are a run of ``-`` filling the column width;
* values and header names may contain spaces (``VM Container``, ``CLIENT NODES``).

Columns are therefore cut at the header's word positions, never by splitting on whitespace.
``json=true`` (6.2 updates and 7) gives ``[{"<owner key>": "name", "<what>": [{...}, ...]}, ...]``.
"""

from __future__ import annotations

import json
import re
import shlex
import typing as t

if t.TYPE_CHECKING:
    # One row of a rocks table: {"owner": host or None, <column>: cell or None}.
    Row = t.Dict[str, t.Any]
    # Parsed output keyed by the owner column, which is None when rocks trimmed it.
    ByOwner = t.Dict[t.Optional[str], t.Any]

# Header names that contain a space. Real output pads them like any other name.
MULTI_WORD_HEADERS = ("CLIENT NODES",)

# Every rocks subcommand the collection reads, with the arguments it passes.
COMMANDS = {
    "host": ["list", "host"],
    "interface": ["list", "host", "interface"],
    "attr": ["list", "host", "attr"],
    "appliance": ["list", "appliance"],
    "vm": ["list", "host", "vm", "showdisks=true"],
}
# Which of them may fail because the roll is missing (no Xen/KVM roll -> no ``list host vm``).
OPTIONAL_COMMANDS = ("vm",)

MARKER = "@@cmc.mvc.rocks@@"

# Membership names (``list host``) to appliance names (``list appliance``) for the base and VM rolls.
MEMBERSHIP_APPLIANCE = {
    "frontend": "frontend",
    "compute": "compute",
    "vm container": "vm-container",
    "hosted vm": "hosted-vm",
    "nas appliance": "nas",
    "ethernet switch": "network",
    "power distribution unit": "power",
}

_ERROR_RE = re.compile(r"^\s*(error - |Error: )(.*)$", re.MULTILINE)


class RocksError(Exception):
    """A rocks command failed or printed something that is not a Rocks table."""


class RocksCommandError(RocksError):
    """``rocks`` reported an error (``error - ...`` exit 255 on 5.x, ``Error: ...`` exit 1 on 6.2/7)."""

    def __init__(self, message: str, rc: int | None = None, command: str | None = None) -> None:
        super().__init__(message)
        self.rc = rc
        self.command = command


class RocksParseError(RocksError):
    """Output that does not follow the Rocks table layout."""


def check_error(stdout: str | None, stderr: str | None = "", rc: int | None = 0, command: str | None = None) -> None:
    """Raise RocksCommandError when the output or exit status says the command failed."""
    text = "%s\n%s" % (stdout or "", stderr or "")
    m = _ERROR_RE.search(text)
    if m:
        raise RocksCommandError("%s%s" % (m.group(1), m.group(2).strip()), rc=rc, command=command)
    if rc not in (0, None):
        tail = (stderr or stdout or "").strip().splitlines()
        raise RocksCommandError("exit status %s%s" % (rc, (": " + tail[-1]) if tail else ""), rc=rc, command=command)


def _shown(value: object, limit: int = 60) -> str:
    """A value from a frontend as put in a message: quoted, control characters escaped, cut to ``limit``."""
    if value is None:
        return "(empty)"
    text = "%s" % (value,)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _null(cell: str) -> str | None:
    cell = cell.strip()
    if cell == "" or set(cell) == {"-"}:
        return None
    return cell


def _header_columns(header: str, lines: list[str]) -> list[tuple[str, int]]:
    """Return [(name, start)] for the header line, joining words that belong to one column."""
    words = [(m.group(0), m.start()) for m in re.finditer(r"\S+", header)]
    cols: list[tuple[str, int]] = []
    i = 0
    while i < len(words):
        name, start = words[i]
        j = i + 1
        while j < len(words):
            nxt_name, nxt_start = words[j]
            joined = header[start:nxt_start + len(nxt_name)]
            sep = nxt_start - 1
            # Known multi-word names, or a header gap that some data row fills (a cell spans it).
            if joined.strip() in MULTI_WORD_HEADERS or (
                    header[sep - 1:sep + 1] != "  " and any(len(ln) > sep and ln[sep] != " " for ln in lines)):
                name = joined.strip()
                j += 1
                continue
            break
        cols.append((name, start))
        i = j
    return cols


def parse_table(text: str | None) -> tuple[list[str], list[Row], bool]:
    """Parse one Rocks text table. Return (columns, rows, has_owner).

    ``columns`` are the lower-cased header names without the owner column; each row is a dict
    ``{"owner": str or None, <column>: str or None, ...}``. ``owner`` is None when Rocks trimmed the
    owner column. Rows whose owner cell is just ``:`` continue the previous owner (``list cluster``).
    """
    check_error(text)
    lines = [ln.rstrip("\r\n") for ln in (text or "").split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return [], [], False
    header, data = lines[0], lines[1:]
    if header.startswith(" ") or header != header.upper():
        raise RocksParseError("not a Rocks table header: %r" % header[:120])
    cols = _header_columns(header, data)
    starts = [s for dummy, s in cols]
    # The owner column's cells end with ':' (``host:`` or ``:``); trimmed tables have no such column.
    first_end = starts[1] - 1 if len(starts) > 1 else None
    has_owner = bool(data) and all(ln[:first_end].rstrip().endswith(":") for ln in data)
    names = [n.lower() for n, dummy in cols]
    rows: list[Row] = []
    previous: str | None = None
    for ln in data:
        cells: list[str] = []
        for k, start in enumerate(starts):
            if k > 0 and len(ln) > start - 1 and ln[start - 1] != " ":
                raise RocksParseError("row does not fit the header columns at %r: %r" % (names[k], ln[:160]))
            end = starts[k + 1] - 1 if k + 1 < len(starts) else len(ln)
            cells.append(ln[start:end] if start < len(ln) else "")
        if has_owner:
            owner: str | None = cells[0].strip()[:-1]
            if owner == "":
                owner = previous
            previous = owner
            row: Row = {"owner": owner}
            row.update((n, _null(c)) for n, c in zip(names[1:], cells[1:]))
        else:
            row = {"owner": None}
            row.update((n, _null(c)) for n, c in zip(names, cells))
        rows.append(row)
    return (names[1:] if has_owner else names), rows, has_owner


def parse_json(text: str) -> tuple[list[str], list[Row], bool]:
    """Parse ``json=true`` output into the same rows as parse_table (owner taken from the owner key)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RocksParseError("bad JSON from rocks: %s" % exc)
    if not isinstance(data, list):
        raise RocksParseError("rocks JSON output is not a list")
    rows: list[Row] = []
    columns: list[str] = []
    for group in data:
        if not isinstance(group, dict) or len(group) != 2:
            raise RocksParseError("unexpected rocks JSON group: %r" % (group,))
        listkey = [k for k, v in group.items() if isinstance(v, list)]
        if len(listkey) != 1:
            raise RocksParseError("unexpected rocks JSON group: %r" % (group,))
        ownerkey = [k for k in group if k != listkey[0]][0]
        owner = group[ownerkey] or None
        for item in group[listkey[0]]:
            row: Row = {"owner": owner}
            for k, v in item.items():
                if k not in columns:
                    columns.append(k)
                row[k] = None if v in ("", None) else (v if not isinstance(v, (int, float)) else str(v))
            rows.append(row)
    return columns, rows, True


def parse_output(text: str | None) -> tuple[list[str], list[Row], bool]:
    """Parse rocks output, text table or JSON, detected from the first character."""
    check_error(text)
    stripped = (text or "").lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        return parse_json(stripped)
    return parse_table(text)


def _int(value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip().rstrip("L"))
    except ValueError:
        return None


def parse_hosts(text: str | None) -> ByOwner:
    """``rocks list host`` -> {name or None: {membership, cpus, rack, rank, runaction, installaction, comment}}."""
    rows = parse_output(text)[1]
    out: ByOwner = {}
    for r in rows:
        out[r["owner"]] = {
            "membership": r.get("membership"),
            "cpus": _int(r.get("cpus")),
            "rack": _int(r.get("rack")),
            "rank": _int(r.get("rank")),
            "runaction": r.get("runaction"),
            "installaction": r.get("installaction"),
            "comment": r.get("comment"),
        }
    return out


def parse_interfaces(text: str | None) -> ByOwner:
    """``rocks list host interface`` -> {host: [{subnet, iface, mac, ip, netmask, module, name, vlan, ...}]}."""
    rows = parse_output(text)[1]
    out: ByOwner = {}
    for r in rows:
        d = dict((k, v) for k, v in r.items() if k != "owner")
        d["vlan"] = _int(d.get("vlan"))
        out.setdefault(r["owner"], []).append(d)
    return out


def parse_attrs(text: str | None) -> ByOwner:
    """``rocks list host attr`` (owner always shown) -> {host: {attr: value}}; sources in ``_source``."""
    rows = parse_output(text)[1]
    out: ByOwner = {}
    for r in rows:
        host = out.setdefault(r["owner"], {})
        if r.get("attr") is not None:
            host[r["attr"]] = r.get("value")
    return out


def parse_appliances(text: str | None) -> ByOwner:
    """``rocks list appliance`` -> {appliance: {graph, node}}."""
    rows = parse_output(text)[1]
    return dict((r["owner"], {"graph": r.get("graph"), "node": r.get("node")}) for r in rows)


def parse_vms(text: str | None) -> ByOwner:
    """``rocks list host vm [showdisks=true]`` -> {vm: {container, slice, mem, cpus, macs, disks, ...}}.

    The first row of a VM holds eth0's MAC and the first disk; further rows (same owner, other cells
    NULL) hold further MACs and disks.
    """
    rows = parse_output(text)[1]
    out: ByOwner = {}
    for r in rows:
        vm = out.get(r["owner"])
        if vm is None:
            vm = out[r["owner"]] = {
                "container": r.get("host"),
                "slice": _int(r.get("slice")),
                "memory_mb": _int(r.get("mem")),
                "cpus": _int(r.get("cpus")),
                "virt_type": r.get("virt-type") or "para",
                "status": r.get("status"),
                "macs": [],
                "disks": [],
            }
        if r.get("mac"):
            vm["macs"].append(r["mac"].lower())
        if r.get("disk"):
            vm["disks"].append({"disk": r["disk"], "size_gb": _int(r.get("disksize"))})
    return out


def split_marked(output: str | None, marker: str = MARKER) -> dict[str, tuple[int | None, str]]:
    """Split the output of one remote shell call into {key: (rc, text)}.

    Each command's section starts with ``<marker> <key>`` and ends with ``<marker> <key> rc=<n>``.
    A missing section means the remote shell died part way, which is an error for the caller.
    """
    sections: dict[str, tuple[int | None, str]] = {}
    current = None
    buf: list[str] = []
    for line in (output or "").split("\n"):
        if line.startswith(marker):
            parts = line[len(marker):].split()
            if len(parts) == 1:
                current, buf = parts[0], []
            elif len(parts) == 2 and parts[1].startswith("rc=") and current == parts[0]:
                sections[current] = (_int(parts[1][3:]), "\n".join(buf))
                current = None
            continue
        if current is not None:
            buf.append(line)
    return sections


# The attributes build_site reads; remote_script can keep only these rows of ``list host attr``.
MODEL_ATTRS = ("appliance", "hostname", "mvc_memory_mb", "memory_mb", "mvc_disk_gb", "disk_gb",
               "mvc_dom0_memory_mb", "Xen_Dom0MinMem")
_ATTR_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def command_words(rocks: object) -> list[str]:
    """Split a ``rocks_command`` into its words, as a shell would (``sudo rocks``, quoted paths).

    Raises RocksError when it is empty or not a valid shell word list (unbalanced quotes).
    """
    try:
        words = shlex.split("%s" % (rocks or ""))
    except ValueError as exc:
        raise RocksError("bad rocks_command %s: %s" % (_shown(rocks), exc))
    if not words:
        raise RocksError("bad rocks_command %s: no command" % _shown(rocks))
    return words


def remote_script(rocks: object = "rocks", use_json: bool = False, marker: str = MARKER,
                  attr_filter: t.Iterable[str] | None = None) -> str:
    """One POSIX shell script running every list command, each section framed by markers (stderr merged).

    ``rocks`` is split into shell words (command_words) and each word is quoted again, so shell syntax in
    it (``;``, ``$(...)``, redirections) reaches the command as plain arguments and never runs.

    With ``attr_filter`` (attribute names), ``list host attr`` keeps only its first line (the header, or
    an error) and the rows of those attributes: a real site has ~100 attributes per host, and the
    columns are still cut from the header. The owner column is never trimmed there, so the attribute
    name is the second whitespace-separated field (host names and attribute names have no spaces).
    """
    rocks = " ".join(shlex.quote(w) for w in command_words(rocks))
    lines = ["PATH=$PATH:/opt/rocks/bin; export PATH"]
    for key, argv in COMMANDS.items():
        args = " ".join(argv + (["json=true"] if use_json else []))
        lines.append("echo '%s %s'" % (marker, key))
        if key == "attr" and attr_filter and not use_json:
            names = [a for a in attr_filter if _ATTR_NAME_RE.fullmatch(a)]
            regex = "^(%s)$" % "|".join(a.replace(".", "[.]") for a in names)
            lines.append("out=$(%s %s 2>&1); rc=$?; printf '%%s\\n' \"$out\" | awk 'NR==1 || $2 ~ /%s/'; "
                         "echo \"%s %s rc=$rc\"" % (rocks, args, regex, marker, key))
        else:
            lines.append("%s %s 2>&1; echo \"%s %s rc=$?\"" % (rocks, args, marker, key))
    return "\n".join(lines) + "\n"


def parse_sections(sections: t.Mapping[str, tuple[int | None, str]]) -> dict[str, ByOwner]:
    """Parse the outputs {key: (rc, text)} of every COMMANDS entry. Missing optional commands give {}."""
    parsers = {"host": parse_hosts, "interface": parse_interfaces, "attr": parse_attrs,
               "appliance": parse_appliances, "vm": parse_vms}
    parsed: dict[str, ByOwner] = {}
    for key in COMMANDS:
        if key not in sections:
            raise RocksError("no answer for 'rocks %s'" % " ".join(COMMANDS[key]))
        rc, text = sections[key]
        try:
            check_error(text, rc=rc, command=key)
        except RocksCommandError:
            if key in OPTIONAL_COMMANDS and "invalid" in text.lower() or (key in OPTIONAL_COMMANDS and rc == 127):
                parsed[key] = {}
                continue
            raise
        parsed[key] = parsers[key](text)
    return parsed


def appliance_of(membership: str | None, attrs: t.Mapping[str, t.Any] | None = None) -> str | None:
    """The appliance name of a host: its intrinsic ``appliance`` attr, else derived from its membership."""
    if attrs and attrs.get("appliance"):
        return attrs["appliance"]
    if not membership:
        return None
    m = membership.strip().lower()
    return MEMBERSHIP_APPLIANCE.get(m, m.replace(" ", "-"))


def _mb(value: object) -> int | None:
    if value is None:
        return None
    m = re.match(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", str(value), re.I)
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2).lower()
    return {"": n, "m": n, "k": n // 1024, "g": n * 1024, "t": n * 1024 * 1024}[unit]


def build_site(site: str, parsed: t.Mapping[str, ByOwner]) -> dict[str, t.Any]:
    """Turn the parsed tables of one frontend into the site model.

    Returns {"site", "frontend", "appliances", "hosts": {name: {...}}, "warnings": [str]}. Each host has
    appliance, membership, rack, rank, cpus, memory_mb (attr ``mvc_memory_mb`` or ``memory_mb``), disk_gb (attr
    ``mvc_disk_gb`` or ``disk_gb``), private/public IP and MAC, interfaces, attrs; VM containers also
    have guests and free capacity (cpus, memory_mb after the ``Xen_Dom0MinMem``/``mvc_dom0_memory_mb``
    reserve, disk_gb when known). Raises RocksError when a whole table cannot be read; a single inconsistent
    row is left out with a message in ``warnings`` (naming the site and the host), so the rest of the site
    stays usable.
    """
    warnings: list[str] = []
    hosts_t = parsed.get("host") or {}
    attrs_t = parsed.get("attr") or {}
    ifaces_t = parsed.get("interface") or {}
    vms_t = dict(parsed.get("vm") or {})  # rows get dropped below; the caller's table stays whole
    if None in hosts_t:
        # Owner trimmed: the site has a single host. ``list host attr`` always names it.
        names = [h for h in attrs_t if h]
        if len(names) != 1 or len(hosts_t) != 1:
            raise RocksError("'rocks list host' printed no HOST column and the host name is not known")
        hosts_t = {names[0]: hosts_t[None]}
    if None in ifaces_t:
        if len(hosts_t) != 1:
            raise RocksError("'rocks list host interface' printed no HOST column for several hosts")
        ifaces_t = {list(hosts_t)[0]: ifaces_t[None]}
    if None in vms_t:
        # Owner trimmed: exactly one VM on the site. Name it by its MAC (unique), else by being the only
        # host of the hosted-vm appliance.
        vm = vms_t[None]
        by_mac = [h for h, ifs in ifaces_t.items() if any(i.get("mac") and i["mac"].lower() in vm["macs"] for i in ifs)]
        if len(by_mac) != 1:
            by_mac = [h for h, v in hosts_t.items()
                      if appliance_of(v.get("membership"), attrs_t.get(h)) == "hosted-vm"]
        if len(by_mac) == 1:
            vms_t = {by_mac[0]: vm}
        else:
            warnings.append("site %s: the only 'rocks list host vm' row (on container %s) has no VM-HOST column "
                            "and its VM cannot be named; that VM row is left out" % (site, _shown(vm["container"])))
            vms_t = {}
    # Keyed as the tables are; after the checks above no key is None.
    hosts: dict[str | None, dict[str, t.Any]] = {}
    frontend = None
    for name, h in hosts_t.items():
        attrs = attrs_t.get(name, {})
        appliance = appliance_of(h.get("membership"), attrs)
        ifaces = ifaces_t.get(name, [])
        private = next((i for i in ifaces if i.get("subnet") == "private" and i.get("ip")), None)
        public = next((i for i in ifaces if i.get("subnet") == "public" and i.get("ip")), None)
        memory = _mb(attrs.get("mvc_memory_mb") or attrs.get("memory_mb"))
        disk = _int(attrs.get("mvc_disk_gb") or attrs.get("disk_gb"))
        host = {
            "name": name,
            "appliance": appliance,
            "membership": h.get("membership"),
            "rack": h.get("rack"),
            "rank": h.get("rank"),
            "cpus": h.get("cpus"),
            "memory_mb": memory,
            "disk_gb": disk,
            "runaction": h.get("runaction"),
            "installaction": h.get("installaction"),
            "private_ip": private and private.get("ip"),
            "private_mac": private and private.get("mac") and private["mac"].lower(),
            "private_iface": private and private.get("iface"),
            "public_ip": public and public.get("ip"),
            "public_mac": public and public.get("mac") and public["mac"].lower(),
            "vlans": sorted(set(i["vlan"] for i in ifaces if i.get("vlan"))),
            "interfaces": ifaces,
            "attrs": attrs,
        }
        if appliance == "frontend" and frontend is None:
            frontend = name
        hosts[name] = host
    for vm, v in list(vms_t.items()):
        c = hosts.get(v["container"])
        if c is None:
            warnings.append("site %s: 'rocks list host vm' row of VM %s names container %s, which 'rocks list "
                            "host' does not list; that VM row is left out" % (site, _shown(vm), _shown(v["container"])))
            del vms_t[vm]
            continue
        c.setdefault("guests", []).append(vm)
        if vm in hosts:
            hosts[vm]["vm"] = v
    for name, h in hosts.items():
        if h["appliance"] != "vm-container" and not h.get("guests"):
            continue
        guests = sorted(h.get("guests", []))
        h["guests"] = guests
        gv = [vms_t[g] for g in guests]
        used_cpus = sum(g["cpus"] or 0 for g in gv)
        used_mem = sum(g["memory_mb"] or 0 for g in gv)
        used_disk = sum(d["size_gb"] or 0 for g in gv for d in g["disks"])
        reserve = _mb(h["attrs"].get("mvc_dom0_memory_mb") or h["attrs"].get("Xen_Dom0MinMem")) or 0
        h["free"] = {
            "cpus": None if h["cpus"] is None else h["cpus"] - used_cpus,
            "memory_mb": None if h["memory_mb"] is None else h["memory_mb"] - reserve - used_mem,
            "disk_gb": None if h["disk_gb"] is None else h["disk_gb"] - used_disk,
        }
    appliances = set(parsed.get("appliance") or {})
    if None in appliances:
        # Owner trimmed: a single appliance; it is the one every host has.
        appliances.discard(None)
        appliances.update(set(h["appliance"] for h in hosts.values()) if len(
            set(h["appliance"] for h in hosts.values())) == 1 else ())
    return {
        "site": site,
        "frontend": frontend,
        "appliances": sorted(appliances),
        "hosts": hosts,
        "warnings": warnings,
    }
