# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command lines, config files and interface names for N2N edges and supernodes (v1, v2, v3).

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Sources for each version (what the unit tests check against):

- v1: Debian's package n2n 1.3.1~svn3789 ("n2n v.1.3.2"), man pages edge(8) and supernode(1) of that package.
  Options only on the command line; no config file. ``-f`` forks, so it is left out under systemd.
  The key comes from the environment variable ``N2N_KEY`` when ``-k`` is absent (edge(8), ENVIRONMENT).
  ``-a 0.0.0.0`` brings the TAP device up without an IPv4 address (tested), which a bridge port wants.
  Supernode: ``supernode -l PORT``.
- v2 (ntop 2.4 to 2.8): ``edge <config file>`` with one option per line, ``-x=value`` form
  (doc/ConfigurationFiles.md); ``-f`` means "do not fork"; ``-a dhcp:0.0.0.0`` leaves the interface
  without an address; ``-A`` selects AES-CBC instead of the default Twofish; ``N2N_KEY`` is read from the
  environment. Supernode: ``-l PORT`` and ``-f``.
- v3 (ntop 3.x): same config file form; ciphers ``-A2`` Twofish, ``-A3`` AES (the default with a key),
  ``-A4`` ChaCha20, ``-A5`` SPECK (doc/Crypto.md); ``-a static:IP/BITS``; the key from ``N2N_KEY``
  (doc/Crypto.md: "the key can also be supplied through the N2N_KEY environment variable").
  Supernode: ``-p PORT`` (``-l`` is a federation peer in v3) and ``-f`` (supernode(1), version 3).

The key is never rendered into a command line or config file: it goes only into the environment file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError, check_int

VERSIONS = (1, 2, 3)
IFNAMSIZ = 15  # Linux interface names: 16 bytes with the trailing NUL
TAP_PREFIX = "n2n-"
BRIDGE_PREFIX = "mvc-"
# Community field length: v1 and v2 carry 16 bytes (edge(8) of 2.1: "Community name is 16 bytes"),
# v3 carries 20 bytes with a trailing NUL (doc/Crypto.md, header layout).
COMMUNITY_MAX = {1: 16, 2: 16, 3: 19}
V3_CIPHERS = {"none": "-A1", "twofish": "-A2", "aes": "-A3", "chacha20": "-A4", "speck": "-A5"}
V2_CIPHERS = ("twofish", "aes")
# Measured with v1 (1.3.2, Twofish): the outer UDP datagram is the inner IP packet + 136 bytes
# (20 IPv4 + 8 UDP + 14 inner Ethernet + 94 N2N header and transform), so 1500 - 136 = 1364 fits a 1500-byte path
# unfragmented. 1360 leaves a few bytes of margin. N2N's own default, 1400, is fragmented.
DEFAULT_MTU = 1360
# Bytes an edge adds to each inner IP packet (outer IPv4 + UDP + inner Ethernet + N2N header and transform), so the
# largest edge MTU is the underlay's MTU minus this. v1 and v3 measured (docs/docsite/rst/n2n.rst); v2 was not, and
# takes v1's figure.
OVERHEAD = {1: 136, 2: 136, 3: 96}
EDGE_BINARY = "/usr/sbin/edge"
SUPERNODE_BINARY = {1: "/usr/bin/supernode", 2: "/usr/sbin/supernode", 3: "/usr/sbin/supernode"}

_CLUSTER_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_COMMUNITY_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


# Bad N2N input; ``field`` names the variable at fault.
N2NError = FieldError


def ifname(prefix: str, cluster: str) -> str:
    """Interface name ``prefix + cluster``, shortened to 15 characters with a hash when it is longer.

    Long names keep the first characters of the cluster and end in 4 hex digits of its SHA-1, so two clusters
    that share a long prefix still get different names (``mvc-averyl-3f2a``).
    """
    name = prefix + cluster
    if len(name) <= IFNAMSIZ:
        return name
    digest = hashlib.sha1(cluster.encode("utf-8")).hexdigest()[:4]
    keep = IFNAMSIZ - len(prefix) - 1 - len(digest)
    return "%s%s-%s" % (prefix, cluster[:keep], digest)


def check_version(value: t.Any, field: str = "version") -> int:
    try:
        version = int(value)
    except (TypeError, ValueError):
        raise N2NError(field, "unknown N2N version %r; expected one of 1, 2, 3" % (value,))
    if version not in VERSIONS or str(value).strip() not in ("1", "2", "3"):
        raise N2NError(field, "unknown N2N version %r; expected one of 1, 2, 3" % (value,))
    return version


def check_port(value: t.Any, field: str = "port") -> int:
    return check_int(value, field, 1, 65535, "a UDP port")


def check_cluster(value: t.Any, field: str = "name") -> str:
    if not isinstance(value, str) or not _CLUSTER_RE.fullmatch(value):
        raise N2NError(field, "cluster name %r must match [a-z][a-z0-9-]{0,30}" % (value,))
    return value


def check_community(value: t.Any, version: int, field: str = "community") -> str:
    if not isinstance(value, str) or value == "":
        raise N2NError(field, "the community is empty")
    limit = COMMUNITY_MAX[version]
    if len(value) > limit:
        raise N2NError(field, "community %r is %d characters; N2N v%d allows at most %d"
                       % (value, len(value), version, limit))
    if not _COMMUNITY_RE.fullmatch(value):
        raise N2NError(field, "community %r may hold only letters, digits, '.', '_' and '-'" % (value,))
    return value


def check_key(value: t.Any, field: str = "key") -> str:
    # The value is never echoed back: it is a secret.
    if not isinstance(value, str) or value == "":
        raise N2NError(field, "the key is missing")
    if any(c in value for c in "\n\r\0\"'\\$`") or value != value.strip():
        raise N2NError(field, "the key may not hold quotes, backslashes, '$', '`', newlines or edge spaces")
    return value


def check_supernode(value: t.Any, field: str = "supernode") -> tuple[str, int]:
    """``host:port`` -> (host, port)."""
    if not isinstance(value, str) or value.count(":") != 1:
        raise N2NError(field, "expected HOST:PORT, got %r" % (value,))
    host, port = value.split(":")
    if not _HOST_RE.fullmatch(host):
        raise N2NError(field, "bad supernode host %r" % (host,))
    return host, check_port(port, field)


def check_address(value: t.Any, field: str = "address", example: str = "10.200.1.1/24") -> ipaddress.IPv4Interface:
    """``IP/PREFIX`` -> ipaddress.IPv4Interface (the prefix is required); ``example`` is quoted in the error."""
    if not isinstance(value, str) or "/" not in value:
        raise N2NError(field, "expected an IPv4 address with prefix such as %s, got %r" % (example, value))
    try:
        iface = ipaddress.IPv4Interface(value)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError) as exc:
        raise N2NError(field, "%r is not a valid IPv4 address/prefix (%s)" % (value, exc))
    net = iface.network
    if net.prefixlen > 30 or iface.ip in (net.network_address, net.broadcast_address):
        raise N2NError(field, "%s is a network or broadcast address, or the prefix is longer than /30" % value)
    return iface


def check_mac(value: t.Any, field: str = "mac") -> str:
    if not isinstance(value, str) or not _MAC_RE.fullmatch(value):
        raise N2NError(field, "expected a MAC address like 00:16:3e:00:00:01, got %r" % (value,))
    if int(value[:2], 16) & 1:
        raise N2NError(field, "%s is a multicast MAC address" % value)
    return value.lower()


def check_mtu(value: t.Any, field: str = "mtu") -> int:
    return check_int(value, field, 576, 1500, "an MTU in bytes")


def check_ifname(value: t.Any, field: str) -> str:
    if not isinstance(value, str) or not _IFNAME_RE.fullmatch(value):
        raise N2NError(field, "%r is not a usable interface name (1-15 of [A-Za-z0-9_.-])" % (value,))
    return value


def mac_for(cluster: str, host: str) -> str:
    """A stable Xen-OUI MAC for the TAP device of ``host`` in ``cluster``, so peers' ARP caches survive restarts."""
    digest = hashlib.sha256(("%s/%s" % (cluster, host)).encode("utf-8")).digest()
    return "00:16:3e:%02x:%02x:%02x" % (digest[0] | 0x80, digest[1], digest[2])


def edge_settings(params: t.Mapping[str, t.Any], host: str = "localhost") -> dict[str, t.Any]:
    """Validate one cluster's edge parameters; return a normalised dict (the key included, for the env file).

    ``params`` keys: version, name, community, key, supernode, bridge, tap, address, mac, mtu, cipher.
    Every error names the field in ``params``.
    """
    version = check_version(params.get("version", 1))
    name = check_cluster(params.get("name"))
    community = check_community(params.get("community"), version)
    key = check_key(params.get("key"))
    sn_host, sn_port = check_supernode(params.get("supernode"))
    tap = check_ifname(params.get("tap") or ifname(TAP_PREFIX, name), "tap")
    bridge = check_ifname(params.get("bridge") or ifname(BRIDGE_PREFIX, name), "bridge")
    if tap == bridge:
        raise N2NError("bridge", "the bridge and the TAP device are both called %s" % tap)
    address = params.get("address")
    address = str(check_address(address)) if address else None
    mac = check_mac(params.get("mac")) if params.get("mac") else mac_for(name, host)
    mtu = check_mtu(params.get("mtu") if params.get("mtu") is not None else DEFAULT_MTU)
    cipher = params.get("cipher")
    if version == 1:
        if cipher not in (None, "", "twofish"):
            raise N2NError("cipher", "N2N v1 has only twofish, got %r" % (cipher,))
        cipher = "twofish"
    elif version == 2:
        cipher = cipher or "twofish"
        if cipher not in V2_CIPHERS:
            raise N2NError("cipher", "N2N v2 ciphers are %s, got %r" % (", ".join(V2_CIPHERS), cipher))
    else:
        cipher = cipher or "aes"
        if cipher not in V3_CIPHERS or cipher == "none":
            raise N2NError("cipher", "N2N v3 ciphers are twofish, aes, chacha20, speck, got %r" % (cipher,))
    return {
        "version": version, "name": name, "community": community, "key": key,
        "supernode": "%s:%d" % (sn_host, sn_port), "tap": tap, "bridge": bridge, "address": address,
        "mac": mac, "mtu": mtu, "cipher": cipher, "overhead": OVERHEAD[version],
    }


def underlay(supernode: str, address: str, route: t.Mapping[str, t.Any], interface_mtu: int | None) -> dict[str, t.Any]:
    """The path toward a supernode, from one entry of ``ip -j route get ADDRESS`` and the MTU of its device.

    ``mtu`` is the smaller of the device's MTU and the route's own (``mtu`` metric, or a learned path MTU)."""
    route_mtu = None
    for metric in route.get("metrics") or []:
        if isinstance(metric, dict) and isinstance(metric.get("mtu"), int):
            route_mtu = metric["mtu"]
    mtus = [m for m in (interface_mtu, route_mtu) if m]
    return {"supernode": supernode, "address": address, "interface": route.get("dev"), "interface_mtu": interface_mtu,
            "route_mtu": route_mtu, "mtu": min(mtus) if mtus else None}


def _edge_options(s: t.Mapping[str, t.Any]) -> list[tuple[str, str | None]]:
    """(option, value) pairs shared by every version; value None for a flag. The TAP gets no address."""
    v = s["version"]
    unaddressed = "0.0.0.0" if v == 1 else "dhcp:0.0.0.0"
    opts: list[tuple[str, str | None]] = [
        ("-d", s["tap"]), ("-a", unaddressed), ("-c", s["community"]), ("-l", s["supernode"]),
        ("-m", s["mac"]), ("-M", str(s["mtu"])), ("-r", None)]
    if v == 2:
        opts.append(("-f", None))
        if s["cipher"] == "aes":
            opts.append(("-A", None))
    elif v == 3:
        opts.append(("-f", None))
        opts.append((V3_CIPHERS[s["cipher"]], None))
    return opts


def config_lines(opts: t.Iterable[tuple[str, str | None]]) -> str:
    """Config file body in the ``-x=value`` form that v2 and v3 read (one option per line)."""
    out = []
    for opt, value in opts:
        out.append(opt if value is None else "%s=%s" % (opt, value))
    return "\n".join(out) + "\n"


def render_edge(params: t.Mapping[str, t.Any], host: str = "localhost",
                config_dir: str = "/etc/n2n/mvc") -> dict[str, t.Any]:
    """Everything an edge unit instance needs, from one cluster's parameters.

    Returns a dict:
      settings: the normalised parameters (with the key);
      argv: the edge command line, without the key;
      config_path, config: the config file for v2/v3 (None for v1);
      env: the environment file's variables (N2N_KEY and what the unit's helper reads);
      env_file: the environment file's text (mode 0600: it holds the key).
    """
    s = edge_settings(params, host)
    opts = _edge_options(s)
    if s["version"] == 1:
        argv = [EDGE_BINARY]
        for opt, value in opts:
            argv.append(opt)
            if value is not None:
                argv.append(value)
        config_path: str | None = None
        config: str | None = None
    else:
        config_path = "%s/%s.conf" % (config_dir, s["name"])
        config = "# cmc.mvc: N2N v%d edge of virtual cluster %s; the key is in %s/%s.env\n%s" % (
            s["version"], s["name"], config_dir, s["name"], config_lines(opts))
        argv = [EDGE_BINARY, config_path]
    env = {
        "N2N_KEY": s["key"],
        "MVC_EDGE_ARGS": " ".join(argv[1:]),
        "MVC_TAP": s["tap"],
        "MVC_BRIDGE": s["bridge"],
        "MVC_ADDRESS": s["address"] or "",
        "MVC_MTU": str(s["mtu"]),
        "MVC_COMMUNITY": s["community"],
        "MVC_VERSION": str(s["version"]),
    }
    return {
        "settings": s, "argv": argv, "config_path": config_path, "config": config, "env": env,
        "env_file": env_file_text(env),
    }


def env_file_text(env: t.Mapping[str, str]) -> str:
    """systemd EnvironmentFile text; values are double-quoted (check_key keeps quotes out of the key)."""
    lines = ["# cmc.mvc N2N edge settings; root only (holds N2N_KEY)"]
    for name in sorted(env):
        lines.append('%s="%s"' % (name, env[name]))
    return "\n".join(lines) + "\n"


def parse_env_file(text: str) -> dict[str, str]:
    """Inverse of env_file_text, for n2n_info. Never returns N2N_KEY."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if name == "N2N_KEY":
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[name] = value
    return out


def render_supernode(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Supernode command line and config: ``params`` keys version, port."""
    version = check_version(params.get("version", 1))
    port = check_port(params.get("port", 7654))
    opts: list[tuple[str, str | None]]
    if version == 1:
        opts = [("-l", str(port))]
    elif version == 2:
        opts = [("-l", str(port)), ("-f", None)]
    else:
        opts = [("-p", str(port)), ("-f", None)]
    binary = SUPERNODE_BINARY[version]
    if version == 1:
        argv = [binary] + [x for o in opts for x in (o[0], o[1]) if x is not None]
        config = None
    else:
        config = "# cmc.mvc: N2N v%d supernode\n%s" % (version, config_lines(opts))
        argv = [binary, "/etc/n2n/mvc/supernode.conf"]
    return {"version": version, "port": port, "argv": argv, "config": config}
