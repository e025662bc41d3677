# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for Rocks output. Samples follow rocks/commands/__init__.py endOutput/outputRow: cells ljust to the
column width (trailing spaces kept), joined by one space, NULL as dashes, owner column trimmed when all rows
share an owner. The multi-host samples are the documented examples of the Rocks users guides."""
from __future__ import annotations

import json
import os
import re
import shlex

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _rocks as r


def rocks_table(header, rows, trim_owner=True):
    """What endOutput/outputRow print: owner 'x:', upper-case header, ljust cells, one space, NULL -> dashes."""
    rows = [["%s:" % x[0]] + list(x[1:]) for x in rows]
    header = [h.upper() for h in header]
    if trim_owner and len(set(x[0] for x in rows)) == 1:
        header, rows = header[1:], [x[1:] for x in rows]
    widths = [max([len(h)] + [len(str(x[i])) if x[i] not in (None, "") else 0 for x in rows])
              for i, h in enumerate(header)]
    lines = [" ".join(h.ljust(widths[i]) for i, h in enumerate(header))]
    for x in rows:
        lines.append(" ".join("-" * widths[i] if c in (None, "") else str(c).ljust(widths[i]) for i, c in enumerate(x)))
    return "\n".join(lines) + "\n"


# base:src/usersguide/advanced/bootflags.sgml (5.4+ header), trailing spaces as outputRow prints them.
LIST_HOST = (
    "HOST         MEMBERSHIP   CPUS RACK RANK RUNACTION INSTALLACTION        \n"
    "vi-2:        Frontend     1    0    0    os        install              \n"
    "compute-0-0: Compute      2    0    0    os        install ucsd         \n"
    "compute-0-1: Compute      2    0    1    os        install              \n"
    "vm-cont-0-0: VM Container 8    0    2    os        install headless noacpi\n"
)

# base:src/usersguide/admin-examples.sgml: one host, so the HOST column is trimmed.
LIST_HOST_ONE = (
    "MEMBERSHIP   CPUS RACK RANK RUNACTION INSTALLACTION          \n"
    "Compute      2    0    0    os        install headless noacpi\n"
)

# Rocks 5.0 printed a COMMENT column instead of the actions; NULL comments are dashes.
LIST_HOST_50 = (
    "HOST         MEMBERSHIP CPUS RACK RANK COMMENT      \n"
    "frontend-0:  Frontend   4    0    0    ------------ \n"
    "compute-0-0: Compute    2    0    0    in room 2.01 \n"
)

# xen:src/usersguide/vm-using/networking-xen.sgml plus the OPTIONS/CHANNEL columns of 5.4+.
LIST_IFACE = (
    "HOST              SUBNET  IFACE MAC               IP             NETMASK   MODULE NAME             VLAN   OPTIONS CHANNEL\n"
    "hosted-vm-0-0-0:  ------- eth0  00:16:3e:00:00:05 -------------- --------- ------ hosted-vm-0-0-0  2      ------- -------\n"
    "vm-container-0-0: private eth0  00:0e:0c:5d:7e:5e 10.255.255.254 255.0.0.0 e1000  vm-container-0-0 ------ ------- -------\n"
    "vm-container-0-0: private vlan2 ----------------- -------------- --------- ------ ---------------- 2      ------- -------\n"
)
LIST_IFACE_PUBLIC = rocks_table(
    ["host", "subnet", "iface", "mac", "ip", "netmask", "module", "name", "vlan", "options", "channel"], [
        ["vm-container-0-0", "private", "eth0", "00:0e:0c:5d:7e:5e", "10.255.255.254", "255.0.0.0", "e1000",
         "vm-container-0-0", None, None, None],
        ["vm-container-0-0", "public", "eth1", "00:0E:0C:5D:7E:5F", "198.51.100.7", "255.255.255.0", "e1000",
         "vmc-pub", None, "", None],
    ])

# base:src/developersguide/internals.sgml: trimOwner=0, so HOST stays for a single host.
LIST_ATTR = (
    "HOST         ATTR                                  VALUE                                    SOURCE\n"
    "compute-0-0: Condor_Client                         true                                     A     \n"
    "compute-0-0: Kickstart_PrivateAddress              10.1.1.1                                 G     \n"
    "compute-0-0: hostname                              compute-0-0                              I     \n"
    "compute-0-0: vm_mac_base_addr                      9a:58:ca:0:00:00                         G     \n"
    "compute-0-0: description                           two words                                H     \n"
)

# xen:src/usersguide/vm-using/virtual-clusters.sgml: header word with a space, ':' continuation rows.
LIST_CLUSTER = (
    "FRONTEND                    CLIENT NODES     TYPE    \n"
    "espresso.rocksclusters.org: ---------------- physical\n"
    ":                           vm-container-0-0 physical\n"
    ":                           vm-container-0-1 physical\n"
    "frontend-0-0-0-public:      ---------------- VM      \n"
    ":                           hosted-vm-0-0-0  VM      \n"
)

LIST_APPLIANCE = (
    "APPLIANCE     GRAPH   NODE   \n"
    "compute:      default compute\n"
    "frontend:     default server \n"
    "hosted-vm:    default -------\n"
    "vm-container: default client \n"
)

# xen list/host/vm: extra rows per VM hold further MACs and disks, other cells NULL.
LIST_VM = rocks_table(
    ["vm-host", "slice", "mem", "cpus", "mac", "host", "virt-type", "disk", "disksize"], [
        ["hosted-vm-0-0-0", 0, 1024, 1, "00:16:3e:00:00:05", "vm-container-0-0", "para",
         "file:/state/partition1/xen/disks/hosted-vm-0-0-0.hda,hda,w", 36],
        ["hosted-vm-0-0-0", None, None, None, "00:16:3e:00:00:06", None, None,
         "file:/state/partition1/xen/disks/hosted-vm-0-0-0.hdb,hdb,w", 10],
        ["frontend-0-0-0", 1, 2048, 2, "00:16:3e:00:00:07", "vm-container-0-0", None, None, None],
    ])


def test_list_host_columns_by_header_position():
    hosts = r.parse_hosts(LIST_HOST)
    assert list(hosts) == ["vi-2", "compute-0-0", "compute-0-1", "vm-cont-0-0"]
    assert hosts["vm-cont-0-0"] == {"membership": "VM Container", "cpus": 8, "rack": 0, "rank": 2,
                                    "runaction": "os", "installaction": "install headless noacpi",
                                    "comment": None}
    assert hosts["compute-0-0"]["installaction"] == "install ucsd"
    assert hosts["compute-0-1"]["installaction"] == "install"


def test_list_host_trimmed_owner():
    cols, rows, has_owner = r.parse_table(LIST_HOST_ONE)
    assert not has_owner
    assert cols == ["membership", "cpus", "rack", "rank", "runaction", "installaction"]
    assert rows == [{"owner": None, "membership": "Compute", "cpus": "2", "rack": "0", "rank": "0",
                     "runaction": "os", "installaction": "install headless noacpi"}]


def test_list_host_rocks_50_comment_column():
    hosts = r.parse_hosts(LIST_HOST_50)
    assert hosts["frontend-0"]["comment"] is None
    assert hosts["compute-0-0"]["comment"] == "in room 2.01"
    assert hosts["compute-0-0"]["runaction"] is None


def test_interfaces_several_rows_vlans_and_nulls():
    ifs = r.parse_interfaces(LIST_IFACE)
    vmc = ifs["vm-container-0-0"]
    assert [i["iface"] for i in vmc] == ["eth0", "vlan2"]
    assert vmc[1] == {"subnet": "private", "iface": "vlan2", "mac": None, "ip": None, "netmask": None,
                      "module": None, "name": None, "vlan": 2, "options": None, "channel": None}
    assert vmc[0]["ip"] == "10.255.255.254" and vmc[0]["vlan"] is None
    assert ifs["hosted-vm-0-0-0"][0]["subnet"] is None and ifs["hosted-vm-0-0-0"][0]["vlan"] == 2


def test_interfaces_trimmed_owner_and_public_address():
    cols, rows, has_owner = r.parse_table(LIST_IFACE_PUBLIC)
    assert not has_owner and cols[0] == "subnet"
    assert rows[1]["ip"] == "198.51.100.7" and rows[1]["netmask"] == "255.255.255.0" and rows[1]["options"] is None


def test_attrs_keep_owner_and_values_with_spaces():
    attrs = r.parse_attrs(LIST_ATTR)
    assert attrs == {"compute-0-0": {"Condor_Client": "true", "Kickstart_PrivateAddress": "10.1.1.1",
                                     "hostname": "compute-0-0", "vm_mac_base_addr": "9a:58:ca:0:00:00",
                                     "description": "two words"}}


def test_header_word_with_a_space_and_continuation_rows():
    cols, rows, has_owner = r.parse_table(LIST_CLUSTER)
    assert has_owner
    assert cols == ["client nodes", "type"]
    assert [(x["owner"], x["client nodes"], x["type"]) for x in rows] == [
        ("espresso.rocksclusters.org", None, "physical"),
        ("espresso.rocksclusters.org", "vm-container-0-0", "physical"),
        ("espresso.rocksclusters.org", "vm-container-0-1", "physical"),
        ("frontend-0-0-0-public", None, "VM"),
        ("frontend-0-0-0-public", "hosted-vm-0-0-0", "VM"),
    ]


def test_appliances():
    assert r.parse_appliances(LIST_APPLIANCE) == {
        "compute": {"graph": "default", "node": "compute"}, "frontend": {"graph": "default", "node": "server"},
        "hosted-vm": {"graph": "default", "node": None}, "vm-container": {"graph": "default", "node": "client"}}


def test_vms_extra_rows_and_null_virt_type():
    vms = r.parse_vms(LIST_VM)
    assert vms["hosted-vm-0-0-0"] == {
        "container": "vm-container-0-0", "slice": 0, "memory_mb": 1024, "cpus": 1, "virt_type": "para",
        "status": None, "macs": ["00:16:3e:00:00:05", "00:16:3e:00:00:06"],
        "disks": [{"disk": "file:/state/partition1/xen/disks/hosted-vm-0-0-0.hda,hda,w", "size_gb": 36},
                  {"disk": "file:/state/partition1/xen/disks/hosted-vm-0-0-0.hdb,hdb,w", "size_gb": 10}]}
    assert vms["frontend-0-0-0"]["virt_type"] == "para"  # NULL virt_type is shown as para
    assert vms["frontend-0-0-0"]["disks"] == []


def test_json_output_same_rows():
    text = json.dumps([{"host": "compute-0-0", "list": [{"membership": "VM Container", "cpus": 2, "rack": 0,
                                                         "rank": 3, "runaction": "os", "installaction": None}]}])
    assert r.parse_hosts(text) == {"compute-0-0": {"membership": "VM Container", "cpus": 2, "rack": 0, "rank": 3,
                                                   "runaction": "os", "installaction": None, "comment": None}}
    ifs = json.dumps([{"host": "a", "interface": [{"subnet": "private", "iface": "vlan2", "mac": None, "vlan": 2}]}])
    assert r.parse_interfaces(ifs) == {"a": [{"subnet": "private", "iface": "vlan2", "mac": None, "vlan": 2}]}


@pytest.mark.parametrize("text, rc, start", [
    ('error - invalid rocks command "list host vm"\n{host} [showdisks=bool]\n', 255, "error - invalid"),
    ('Error: cannot resolve host "nope"\n{host ...}\n', 1, "Error: cannot resolve"),
])
def test_errors_are_raised_with_the_message(text, rc, start):
    with pytest.raises(r.RocksCommandError) as err:
        r.check_error(text, rc=rc)
    assert str(err.value).startswith(start)
    assert err.value.rc == rc
    with pytest.raises(r.RocksCommandError):
        r.parse_output(text)


def test_nonzero_exit_without_message_is_an_error():
    with pytest.raises(r.RocksCommandError, match="exit status 127"):
        r.check_error("", "sh: 1: rocks: not found", rc=127)


@pytest.mark.parametrize("text", [
    "HOST  MEMBERSHIP\ncompute-0-0:Compute-and-more-than-fits\n",
    "this is not rocks output\n",
    "[{\"host\": \"a\"}]",
])
def test_malformed_output_is_refused(text):
    with pytest.raises(r.RocksError):
        r.parse_output(text)


def test_whitespace_splitting_would_be_wrong_here():
    # A value with a space in the first data column; a whitespace split would shift every column after it.
    hosts = r.parse_hosts(LIST_HOST)
    assert hosts["vm-cont-0-0"]["cpus"] == 8 and hosts["vm-cont-0-0"]["rack"] == 0


def test_empty_output_is_an_empty_table():
    assert r.parse_table("") == ([], [], False)
    assert r.parse_hosts("\n") == {}


def _sections(**texts):
    return dict((k, (0, v)) for k, v in texts.items())


def test_build_site_model_capacity_and_addresses():
    hosts = rocks_table(["host", "membership", "cpus", "rack", "rank", "runaction", "installaction"], [
        ["fe", "Frontend", 4, 0, 0, "os", "install"],
        ["vm-container-0-0", "VM Container", 16, 0, 0, "os", "install"],
        ["hosted-vm-0-0-0", "Hosted VM", 1, 0, 0, "none", "install vm"],
        ["frontend-0-0-0", "Hosted VM", 2, 0, 0, "none", "install vm frontend"],
    ])
    attrs = rocks_table(["host", "attr", "value", "source"], [
        ["fe", "appliance", "frontend", "I"],
        ["vm-container-0-0", "mvc_memory_mb", "32768", "H"],
        ["vm-container-0-0", "mvc_disk_gb", "200", "H"],
        ["vm-container-0-0", "Xen_Dom0MinMem", "768", "G"],
    ], trim_owner=False)
    ifaces = LIST_IFACE
    parsed = r.parse_sections(_sections(host=hosts, interface=ifaces, attr=attrs, appliance=LIST_APPLIANCE,
                                        vm=LIST_VM))
    site = r.build_site("osaka", parsed)
    assert site["frontend"] == "fe"
    vmc = site["hosts"]["vm-container-0-0"]
    assert vmc["appliance"] == "vm-container"
    assert vmc["private_ip"] == "10.255.255.254" and vmc["private_mac"] == "00:0e:0c:5d:7e:5e"
    assert vmc["vlans"] == [2]
    assert vmc["guests"] == ["frontend-0-0-0", "hosted-vm-0-0-0"]
    assert vmc["free"] == {"cpus": 16 - 1 - 2, "memory_mb": 32768 - 768 - 1024 - 2048, "disk_gb": 200 - 36 - 10}
    assert site["hosts"]["hosted-vm-0-0-0"]["vm"]["container"] == "vm-container-0-0"
    assert site["hosts"]["fe"]["appliance"] == "frontend"


def test_build_site_single_host_takes_name_from_attrs():
    attrs = "HOST ATTR      VALUE    SOURCE\nfe:  appliance frontend I     \n"
    parsed = r.parse_sections(_sections(host=LIST_HOST_ONE, interface="", attr=attrs, appliance=LIST_APPLIANCE,
                                        vm=""))
    site = r.build_site("x", parsed)
    assert list(site["hosts"]) == ["fe"]
    assert site["hosts"]["fe"]["cpus"] == 2


def test_vm_on_unknown_container_is_left_out_with_a_warning():
    vms = rocks_table(["vm-host", "slice", "mem", "cpus", "mac", "host"], [
        ["vm-0", 0, 1024, 1, "00:16:3e:00:00:05", "vm-cont-0-0"],
        ["vm-1", 1, 1024, 1, "00:16:3e:00:00:06", "vm-container-9-9"],
    ])
    site = r.build_site("x", {"host": r.parse_hosts(LIST_HOST), "vm": r.parse_vms(vms)})
    assert list(site["hosts"]) == ["vi-2", "compute-0-0", "compute-0-1", "vm-cont-0-0"]
    assert site["hosts"]["vm-cont-0-0"]["guests"] == ["vm-0"]
    assert site["hosts"]["vm-cont-0-0"]["free"]["cpus"] == 8 - 1
    assert len(site["warnings"]) == 1
    assert re.search(r"site x: .*'vm-1'.*'vm-container-9-9'.*does not list", site["warnings"][0])


def test_warning_cuts_long_row_values():
    long_name = "c" * 5000
    vms = rocks_table(["vm-host", "slice", "mem", "cpus", "mac", "host"], [
        ["vm-0", 0, 1024, 1, "00:16:3e:00:00:05", "vm-cont-0-0"],
        ["vm-" + "v" * 5000, 0, 1024, 1, "00:16:3e:00:00:06", long_name]])
    site = r.build_site("x", {"host": r.parse_hosts(LIST_HOST), "vm": r.parse_vms(vms)})
    assert len(site["warnings"]) == 1 and len(site["warnings"][0]) < 300
    assert "c" * 60 in site["warnings"][0] and "c" * 61 not in site["warnings"][0]


def test_single_vm_that_cannot_be_named_is_left_out_with_a_warning():
    vm = rocks_table(["vm-host", "slice", "mem", "cpus", "mac", "host"], [
        ["hosted-vm-0-0-0", 0, 1024, 1, "00:16:3e:00:00:99", "vm-container-0-0"]])
    hosts = rocks_table(["host", "membership", "cpus", "rack", "rank", "runaction", "installaction"], [
        ["vm-container-0-0", "VM Container", 16, 0, 0, "os", "install"],
        ["hosted-vm-0-0-0", "Hosted VM", 1, 0, 0, "none", "install vm"],
        ["hosted-vm-0-0-1", "Hosted VM", 1, 0, 0, "none", "install vm"]])
    parsed = r.parse_sections(_sections(host=hosts, interface=LIST_IFACE, attr="", appliance=LIST_APPLIANCE, vm=vm))
    site = r.build_site("x", parsed)
    assert sorted(site["hosts"]) == ["hosted-vm-0-0-0", "hosted-vm-0-0-1", "vm-container-0-0"]
    assert site["hosts"]["vm-container-0-0"]["guests"] == []
    assert len(site["warnings"]) == 1 and "site x: " in site["warnings"][0]
    assert "'vm-container-0-0'" in site["warnings"][0] and "cannot be named" in site["warnings"][0]


def test_site_without_bad_rows_has_no_warnings():
    site = r.build_site("x", {"host": r.parse_hosts(LIST_HOST)})
    assert site["warnings"] == []


def test_sections_split_and_missing_or_optional():
    out = "@@cmc.mvc.rocks@@ host\nHOST\n@@cmc.mvc.rocks@@ host rc=0\n@@cmc.mvc.rocks@@ vm\nx\n"
    assert r.split_marked(out) == {"host": (0, "HOST")}
    with pytest.raises(r.RocksError, match="no answer"):
        r.parse_sections({"host": (0, "")})
    parsed = r.parse_sections({"host": (0, LIST_HOST), "interface": (0, ""), "attr": (0, ""),
                               "appliance": (0, ""), "vm": (255, 'error - invalid rocks command "list host vm"')})
    assert parsed["vm"] == {}
    with pytest.raises(r.RocksCommandError):
        r.parse_sections({"host": (1, "Error: database down"), "interface": (0, ""), "attr": (0, ""),
                          "appliance": (0, ""), "vm": (0, "")})


def test_remote_script_frames_every_command():
    script = r.remote_script("/opt/rocks/bin/rocks", attr_filter=("appliance", "a.b"))
    for key in r.COMMANDS:
        assert "'%s %s'" % (r.MARKER, key) in script
        assert '%s %s rc=' % (r.MARKER, key) in script
    assert "^(appliance|a[.]b)$" in script
    assert "json=true" in r.remote_script(use_json=True)


def _fake_rocks(directory):
    """A ``rocks`` that prints its arguments, one per line."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "rocks"
    path.write_text("#!/bin/sh\nfor a in \"$@\"; do echo \"arg=$a\"; done\n")
    path.chmod(0o755)
    return path


def _run_script(tmp_path, script):
    import os
    import subprocess
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % (tmp_path / "bin"))
    out = subprocess.run(["/bin/sh", "-s"], input=script.encode(), stdout=subprocess.PIPE, cwd=str(tmp_path),
                         env=env, check=True).stdout.decode()
    return r.split_marked(out)


@pytest.mark.parametrize("attr_filter", [None, ("appliance",)])
def test_remote_script_does_not_let_rocks_command_inject_shell(tmp_path, attr_filter):
    _fake_rocks(tmp_path / "bin")
    marker = tmp_path / "injected"
    script = r.remote_script("rocks; touch %s" % marker, attr_filter=attr_filter)
    assert "'rocks;' touch %s list host" % marker in script
    sections = _run_script(tmp_path, script)
    assert not marker.exists()
    assert sections["host"][0] == 127  # no command named 'rocks;'
    assert set(os.listdir(str(tmp_path))) == {"bin"}


def test_remote_script_rocks_command_words_are_shell_words(tmp_path):
    """A command with arguments (``sudo rocks``) works; a path with spaces is quoted as in a shell."""
    rocks = _fake_rocks(tmp_path / "bin" / "my rocks")
    sections = _run_script(tmp_path, r.remote_script("%s --db 'a b'" % shlex.quote(str(rocks))))
    assert sections["host"] == (0, "arg=--db\narg=a b\narg=list\narg=host")
    _fake_rocks(tmp_path / "bin")
    assert _run_script(tmp_path, r.remote_script("rocks"))["host"] == (0, "arg=list\narg=host")  # found on PATH


@pytest.mark.parametrize("bad", ["", "  ", "rocks 'unclosed"])
def test_remote_script_refuses_a_rocks_command_that_is_no_command(bad):
    with pytest.raises(r.RocksError, match="rocks_command"):
        r.remote_script(bad)


STANDIN = __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "..", "..", "rocks_standin")


def _standin_site(tmp_path, version, use_json):
    import os
    import subprocess
    import sys
    sys.path.insert(0, STANDIN)
    try:
        import generate
    finally:
        sys.path.pop(0)
    data = tmp_path / "site.json"
    data.write_text(json.dumps(generate.generate("osaka", 40, guests=2)))
    env = dict(os.environ, ROCKS_STANDIN_DATA=str(data), ROCKS_STANDIN_VERSION=version)
    sections = {}
    for key, argv in r.COMMANDS.items():
        p = subprocess.run([sys.executable, os.path.join(STANDIN, "rocks")] + argv + (["json=true"] if use_json else []),
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        sections[key] = (p.returncode, p.stdout.decode())
    return sections, r.build_site("osaka", r.parse_sections(sections))


@pytest.mark.parametrize("version, use_json", [("5.4", False), ("6.1", False), ("6.2u", True), ("7", False),
                                               ("7", True), ("5.4", True)])
def test_standin_outputs_give_the_same_site(tmp_path, version, use_json):
    sections, site = _standin_site(tmp_path, version, use_json)
    ref = _standin_site(tmp_path, "7", True)[1]
    assert sections["host"][1].lstrip().startswith("[") == (use_json and version in ("6.2u", "7"))
    assert site == ref
    assert len(site["hosts"]) == 40
    assert site["hosts"]["vm-container-0-1"]["free"]["cpus"] == 16 - 2 * 2


def test_standin_rocks_50_has_comment_and_errors(tmp_path):
    sections, site = _standin_site(tmp_path, "5.0", False)
    assert "COMMENT" in sections["host"][1].splitlines()[0]
    assert site["hosts"]["compute-0-0"]["runaction"] is None
    import os
    import subprocess
    import sys
    env = dict(os.environ, ROCKS_STANDIN_DATA=str(tmp_path / "site.json"))
    for version, rc, prefix in (("5.4", 255, "error - "), ("7", 1, "Error: ")):
        env["ROCKS_STANDIN_VERSION"] = version
        p = subprocess.run([sys.executable, os.path.join(STANDIN, "rocks"), "list", "host", "nope"], env=env,
                           stdout=subprocess.PIPE, check=False)
        assert p.returncode == rc and p.stdout.decode().startswith(prefix)


def test_single_vm_trims_the_vm_host_column_and_is_named_by_mac():
    vm = rocks_table(["vm-host", "slice", "mem", "cpus", "mac", "host", "virt-type"], [
        ["hosted-vm-0-0-0", 0, 1024, 1, "00:16:3e:00:00:05", "vm-container-0-0", "para"]])
    assert not vm.startswith("VM-HOST")
    hosts = rocks_table(["host", "membership", "cpus", "rack", "rank", "runaction", "installaction"], [
        ["vm-container-0-0", "VM Container", 16, 0, 0, "os", "install"],
        ["hosted-vm-0-0-0", "Hosted VM", 1, 0, 0, "none", "install vm"]])
    parsed = r.parse_sections(_sections(host=hosts, interface=LIST_IFACE, attr="", appliance=LIST_APPLIANCE, vm=vm))
    site = r.build_site("x", parsed)
    assert site["hosts"]["vm-container-0-0"]["guests"] == ["hosted-vm-0-0-0"]
    assert site["hosts"]["vm-container-0-0"]["free"]["cpus"] == 15
