# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cmc.mvc.rocks inventory plugin, run in-process through Ansible's InventoryManager against the rocks
stand-in as a local frontend (``local: true``, ``rocks_command`` pointing at the stand-in)."""
from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template


def _ensure_collection_loader():
    """ansible-test units installs Ansible's collection finder; a plain pytest run needs it installed here."""
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    if not any(isinstance(f, _AnsibleCollectionFinder) for f in sys.meta_path):
        from ansible.plugins.loader import init_plugin_loader
        init_plugin_loader()


_ensure_collection_loader()

from ansible_collections.cmc.mvc.plugins.module_utils import _rocks  # noqa: E402  pylint: disable=wrong-import-position

from ansible.inventory.manager import InventoryManager  # noqa: E402  pylint: disable=wrong-import-position

STANDIN = os.path.join(os.path.dirname(__file__), "..", "..", "..", "rocks_standin")
sys.path.insert(0, STANDIN)
import generate  # noqa: E402  pylint: disable=wrong-import-position,import-error
sys.path.pop(0)


def _rocks_cmd(tmp_path, name, data=None, script=None, version="7"):
    """A per-site ``rocks`` wrapper: the stand-in with that site's data file, or a given shell script."""
    path = tmp_path / ("rocks-" + name)
    if script is None:
        datafile = tmp_path / ("%s.json" % name)
        datafile.write_text(json.dumps(data))
        script = "#!/bin/sh\nROCKS_STANDIN_DATA=%s ROCKS_STANDIN_VERSION=%s exec %s %s \"$@\"\n" % (
            datafile, version, sys.executable, os.path.abspath(os.path.join(STANDIN, "rocks")))
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _inventory(tmp_path, config, cache=True):
    path = tmp_path / "sites.rocks.yml"
    path.write_text(json.dumps(dict({"plugin": "cmc.mvc.rocks"}, **config)))
    inv = InventoryManager(loader=DataLoader(), sources=[], cache=cache)
    # parse_source raises with the plugin's own message when the source fails (unparsed_is_failed).
    from ansible.plugins.loader import inventory_loader
    plugin = inventory_loader.get("cmc.mvc.rocks")
    assert plugin.verify_file(str(path))
    plugin.parse(inv._inventory, DataLoader(), str(path), cache=cache)
    try:
        plugin.update_cache_if_changed()  # as InventoryManager.parse_source does after parse()
    except AttributeError:  # no cache configured: InventoryManager ignores this too
        pass
    return inv._inventory


def _plugin_module():
    """The module the plugin loader loaded the plugin from (its name differs under ansible-test)."""
    from ansible.plugins.loader import inventory_loader
    return sys.modules[type(inventory_loader.get("cmc.mvc.rocks")).__module__]


def _two_sites(tmp_path, **extra):
    fes = [{"site": "osaka", "local": True,
            "rocks_command": _rocks_cmd(tmp_path, "osaka", generate.generate("osaka", 12, guests=2))},
           {"site": "sdsc", "local": True,
            "rocks_command": _rocks_cmd(tmp_path, "sdsc", generate.generate("sdsc", 6, guests=1, site_no=2),
                                        version="5.4")}]
    return dict({"frontends": fes}, **extra)


def test_verify_file_wants_rocks_yml(tmp_path):
    from ansible.plugins.loader import inventory_loader
    plugin = inventory_loader.get("cmc.mvc.rocks")
    for name, ok in (("a.rocks.yml", True), ("rocks.yaml", True), ("a.yml", False)):
        (tmp_path / name).write_text("plugin: cmc.mvc.rocks\n")
        assert plugin.verify_file(str(tmp_path / name)) is ok


def test_groups_and_hostvars_for_two_sites(tmp_path):
    inv = _inventory(tmp_path, _two_sites(tmp_path))
    groups = inv.get_groups_dict()
    assert sorted(groups["site_osaka"]) == sorted(
        "%s.osaka" % n for n in ["osaka", "compute-0-0", "vm-container-0-1", "hosted-vm-0-1-0", "hosted-vm-0-1-1",
                                 "compute-0-2", "vm-container-0-3", "hosted-vm-0-3-0", "hosted-vm-0-3-1",
                                 "compute-0-4", "compute-0-5", "compute-0-6"])
    assert groups["frontends"] == ["osaka.osaka", "sdsc.sdsc"]
    assert "vm-container-0-1.sdsc" in groups["vm_containers"] and "vm-container-0-1.osaka" in groups["vm_containers"]
    assert "compute-0-0.osaka" in groups["rack_osaka_0"] and "osaka.osaka" not in groups["rack_osaka_0"]
    assert "hosted-vm-0-1-0.sdsc" in groups["hosted_vms"]
    hv = inv.get_host("vm-container-0-1.osaka").vars
    assert hv["mvc_site"] == "osaka" and hv["mvc_appliance"] == "vm-container"
    assert hv["mvc_cpus"] == 16 and hv["mvc_memory_mb"] == 65536
    assert hv["mvc_guests"] == ["hosted-vm-0-1-0.osaka", "hosted-vm-0-1-1.osaka"]
    assert hv["mvc_free"] == {"cpus": 12, "memory_mb": 65536 - 768 - 2 * 2048, "disk_gb": 500 - 72}
    assert hv["mvc_vlans"] == [2, 3] and hv["mvc_mac"].startswith("02:01:")
    assert hv["ansible_host"] == hv["mvc_private_ip"] and "ansible_ssh_common_args" not in hv  # local frontend
    assert inv.get_host("osaka.osaka").vars["ansible_connection"] == "local"
    assert inv.get_host("osaka.osaka").vars["mvc_public_ip"] == "198.51.100.11"
    # remote data is not trusted for templating
    assert not is_trusted_as_template(hv["mvc_site"]) and not is_trusted_as_template(hv["mvc_rocks_name"])


def test_compose_groups_keyed_groups_and_template(tmp_path):
    cfg = _two_sites(tmp_path, hostname_template="{site}-{name}", include_guests=False,
                     compose={"cores": "mvc_cpus * 2"},
                     groups={"roomy": "mvc_free is defined and mvc_free.cpus >= 12"},
                     keyed_groups=[{"key": "mvc_membership", "prefix": "m"}])
    inv = _inventory(tmp_path, cfg)
    groups = inv.get_groups_dict()
    assert sorted(groups["roomy"]) == ["osaka-vm-container-0-1", "osaka-vm-container-0-3",
                                       "sdsc-vm-container-0-1", "sdsc-vm-container-0-2"]
    assert sorted(groups["m_VM_Container"]) == sorted(groups["roomy"])
    assert groups["hosted_vms"] == [] and not [h for h in inv.hosts if "hosted-vm" in h]
    assert inv.get_host("osaka-compute-0-0").vars["cores"] == 16


def _split_proxy(common_args, alias=None):
    """ansible_ssh_common_args -> the ProxyCommand's argv, as Ansible (shlex) and then sh split them."""
    args = shlex.split(common_args)
    if alias:
        assert args[:2] == ["-o", "HostKeyAlias=" + alias]
        args = args[2:]
    assert len(args) == 2 and args[0] == "-o" and args[1].startswith("ProxyCommand=")
    return shlex.split(args[1][len("ProxyCommand="):])


def test_ssh_settings_for_private_hosts_go_through_the_frontend(tmp_path, monkeypatch):
    mod = _plugin_module()
    model = _rocks.build_site("osaka", _rocks.parse_sections(_standin_sections(tmp_path)))
    monkeypatch.setattr(mod, "query_frontend", lambda fe, options: model)
    key = "/keys of mine/id 1"  # spaces: the quoting must survive two shell splits
    cfg = {"frontends": [{"site": "osaka", "host": "203.0.113.5", "user": "root", "port": 2222,
                          "private_key_file": key, "jump_host": "gw@198.51.100.1:2200"}],
           "host_key_checking": False, "ssh_args": ["-o", "ConnectTimeout=7"]}
    inv = _inventory(tmp_path, cfg)
    fe = inv.get_host("osaka.osaka").vars
    assert (fe["ansible_host"], fe["ansible_port"], fe["ansible_user"]) == ("203.0.113.5", 2222, "root")
    assert fe["ansible_ssh_private_key_file"] == key
    hop = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "LogLevel=ERROR", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=7"]
    assert _split_proxy(fe["ansible_ssh_common_args"]) == hop + ["-p", "2200", "-l", "gw", "-W", "[%h]:%p",
                                                                 "198.51.100.1"]
    c = inv.get_host("compute-0-0.osaka").vars
    assert c["ansible_host"] == c["mvc_private_ip"] and "ansible_user" not in c
    outer = _split_proxy(c["ansible_ssh_common_args"], alias="compute-0-0.osaka")
    inner = outer[outer.index("-W") - 1]
    assert outer == hop + ["-p", "2222", "-l", "root", "-o", inner, "-W", "[%h]:%p", "203.0.113.5"]
    # The outer ssh expands %-tokens once, so the jump host's own [%h]:%p arrives escaped.
    assert inner.startswith("ProxyCommand=")
    assert shlex.split(inner[len("ProxyCommand="):]) == hop + ["-p", "2200", "-l", "gw", "-W", "[%%h]:%%p",
                                                               "198.51.100.1"]


def test_control_path_per_inventory_host(tmp_path, monkeypatch):
    """Two sites with the same private addresses: one control socket per inventory host."""
    mod = _plugin_module()
    model = _rocks.build_site("x", _rocks.parse_sections(_standin_sections(tmp_path)))
    monkeypatch.setattr(mod, "query_frontend", lambda fe, options: model)
    cfg = {"frontends": [{"site": "osaka", "host": "203.0.113.5", "user": "root"},
                         {"site": "sdsc", "host": "203.0.113.6", "user": "root"}]}
    inv = _inventory(tmp_path, cfg)
    paths = {}
    for name, host in inv.hosts.items():
        if "ansible_host" in host.vars:
            paths[name] = host.vars["ansible_control_path"]
        else:
            assert "ansible_control_path" not in host.vars  # guests without an address
    assert inv.get_host("vm-container-0-1.osaka").vars["ansible_host"] == \
        inv.get_host("vm-container-0-1.sdsc").vars["ansible_host"]
    assert len(paths) > 4 and len(set(paths.values())) == len(paths)
    for path in paths.values():
        assert re.match(r"^%\(directory\)s/[0-9a-f]{16}-%%r$", path), path
        # as Ansible's ssh plugin and then ssh turn it into a socket path: short enough for sun_path
        assert len(path % {"directory": "/root/.ansible/cp"}) < 50
    again = _inventory(tmp_path, cfg)  # the same host, reached the same way, finds its socket again
    assert again.get_host("compute-0-0.osaka").vars["ansible_control_path"] == paths["compute-0-0.osaka"]


def test_local_frontend_hosts_get_no_proxy_but_own_control_path(tmp_path):
    inv = _inventory(tmp_path, _two_sites(tmp_path))
    hv = inv.get_host("vm-container-0-1.osaka").vars
    assert "ansible_ssh_common_args" not in hv and hv["ansible_control_path"].startswith("%(directory)s/")
    assert hv["ansible_control_path"] != inv.get_host("vm-container-0-1.sdsc").vars["ansible_control_path"]
    assert "ansible_control_path" not in inv.get_host("osaka.osaka").vars  # ansible_connection local


def _standin_sections(tmp_path):
    cmd = _rocks_cmd(tmp_path, "x", generate.generate("osaka", 8, guests=1))
    import subprocess
    out = subprocess.run(["sh", "-s"], input=_rocks.remote_script(cmd).encode(), stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    return _rocks.split_marked(out)


def test_ssh_command_line():
    mod = _plugin_module()
    argv = mod._ssh_base({"host": "fe", "user": "u", "port": 2200, "private_key_file": "/k", "jump_host": "j@jh:23"},
                         {"host_key_checking": False, "ssh_args": ["-o", "ConnectTimeout=5"]})
    assert argv[0] == "ssh" and argv[-1] == "fe"
    assert ["-p", "2200"] == argv[argv.index("-p"):argv.index("-p") + 2]
    proxy = shlex.split([a for a in argv if a.startswith("ProxyCommand=")][0][len("ProxyCommand="):])
    assert proxy[-3:] == ["-W", "[%h]:%p", "jh"] and proxy[proxy.index("-l") + 1] == "j"
    assert proxy[proxy.index("-p") + 1] == "23" and proxy[proxy.index("-i") + 1] == "/k"
    assert "StrictHostKeyChecking=no" in argv and "ConnectTimeout=5" in argv


def test_down_frontend_is_an_error_naming_it(tmp_path):
    cfg = _two_sites(tmp_path)
    cfg["frontends"][1]["rocks_command"] = "/nonexistent/rocks"
    with pytest.raises(AnsibleError, match="Rocks frontend of site sdsc: .*exit status 127"):
        _inventory(tmp_path, cfg)


def test_bad_answer_is_an_error_naming_it(tmp_path):
    cfg = _two_sites(tmp_path)
    cfg["frontends"][0]["rocks_command"] = _rocks_cmd(tmp_path, "bad", script="#!/bin/sh\necho 'HOST  X'\necho 'garbage here that does not fit'\n")
    with pytest.raises(AnsibleError, match="Rocks frontend of site osaka: bad answer"):
        _inventory(tmp_path, cfg)


def test_warn_leaves_the_whole_site_out(tmp_path, capsys):
    cfg = _two_sites(tmp_path, on_frontend_error="warn")
    cfg["frontends"][1]["rocks_command"] = "/nonexistent/rocks"
    inv = _inventory(tmp_path, cfg)
    groups = inv.get_groups_dict()
    assert "site_sdsc" not in groups and not [h for h in inv.hosts if h.endswith(".sdsc")]
    assert len(groups["site_osaka"]) == 12
    assert "site sdsc left out" in capsys.readouterr().err


def test_cache_used_and_fallback_when_frontend_is_down(tmp_path, capsys):
    cachedir = tmp_path / "cache"
    cfg = _two_sites(tmp_path, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cachedir),
                     cache_timeout=3600)
    inv = _inventory(tmp_path, cfg)
    assert len(inv.get_groups_dict()["site_sdsc"]) == 6
    assert os.listdir(cachedir)
    # Frontend data changes: the cached inventory is still returned while the cache is valid.
    good = cfg["frontends"][1]["rocks_command"]
    cfg["frontends"][1]["rocks_command"] = _rocks_cmd(tmp_path, "sdsc2", generate.generate("sdsc", 3, guests=0, site_no=2))
    inv = _inventory(tmp_path, cfg)
    assert len(inv.get_groups_dict()["site_sdsc"]) == 6
    # A refresh (--flush-cache) asks again.
    inv = _inventory(tmp_path, cfg, cache=False)
    assert len(inv.get_groups_dict()["site_sdsc"]) == 3
    # Refresh while sdsc is down: its last cached answer is used, with a warning naming it.
    cfg["frontends"][1]["rocks_command"] = "/nonexistent/rocks"
    capsys.readouterr()
    inv = _inventory(tmp_path, cfg, cache=False)
    assert len(inv.get_groups_dict()["site_sdsc"]) == 3
    assert "site sdsc" in capsys.readouterr().err
    assert good


def test_vm_row_on_unlisted_container_keeps_the_site_and_warns(tmp_path, capsys):
    data = generate.generate("osaka", 12, guests=2)
    bad = [h for h in data["hosts"] if h["name"] == "hosted-vm-0-1-0"][0]
    bad["vm"]["container"] = "vm-container-9-9"
    cfg = {"frontends": [{"site": "osaka", "local": True, "rocks_command": _rocks_cmd(tmp_path, "osaka", data)}]}
    inv = _inventory(tmp_path, cfg)
    groups = inv.get_groups_dict()
    assert len(groups["site_osaka"]) == 12  # the VM is still a host of the site, only its VM row is dropped
    assert inv.get_host("vm-container-0-1.osaka").vars["mvc_guests"] == ["hosted-vm-0-1-1.osaka"]
    assert inv.get_host("vm-container-0-3.osaka").vars["mvc_guests"] == ["hosted-vm-0-3-0.osaka",
                                                                         "hosted-vm-0-3-1.osaka"]
    assert "mvc_vm" not in inv.get_host("hosted-vm-0-1-0.osaka").vars
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"site osaka: .*'hosted-vm-0-1-0'.*'vm-container-9-9'", err), err


def test_rocks_command_cannot_inject_shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "injected"
    cfg = _two_sites(tmp_path)
    cfg["frontends"][1]["rocks_command"] += "; touch %s" % marker
    with pytest.raises(AnsibleError, match="Rocks frontend of site sdsc: "):
        _inventory(tmp_path, cfg)
    assert not marker.exists()


def test_rocks_command_with_arguments(tmp_path):
    """``rocks_command`` is split into shell words: a wrapper with arguments (as ``sudo rocks``) works."""
    cfg = _two_sites(tmp_path)
    cfg["frontends"][0]["rocks_command"] = "env MVC_UNUSED='a b' " + cfg["frontends"][0]["rocks_command"]
    inv = _inventory(tmp_path, cfg)
    assert len(inv.get_groups_dict()["site_osaka"]) == 12


@pytest.mark.parametrize("bad, message", [
    ({"frontends": []}, "frontends is empty"),
    ({"frontends": [{"site": "a b", "local": True}]}, "site must be"),
    ({"frontends": [{"site": "a\n", "local": True}]}, "site must be"),
    ({"frontends": [{"site": "a"}]}, "needs host"),
    ({"frontends": [{"site": "a", "local": True}, {"site": "a", "local": True}]}, "appears twice"),
    ({"frontends": [{"site": "a", "local": True, "hots": "x"}]}, "unknown keys hots"),
    ({"frontends": [{"site": "a", "local": True, "rocks_command": "rocks 'x"}]}, r"\(site a\): bad rocks_command"),
])
def test_bad_config_is_refused(tmp_path, bad, message):
    with pytest.raises(AnsibleError, match=message):
        _inventory(tmp_path, bad)
