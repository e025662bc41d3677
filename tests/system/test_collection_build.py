"""The collection builds into a tarball that installs offline and whose plugins Ansible can list."""
from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys

import yaml

TOP = pathlib.Path(__file__).resolve().parents[2]


def _plugins(kind):
    return sorted(p.stem for p in (TOP / "plugins" / kind).glob("*.py") if not p.name.startswith("_"))


# Import name -> the distribution requirements.txt lists it by.
DISTRIBUTIONS = {"sqlalchemy": "sqlalchemy", "netaddr": "netaddr", "cryptography": "cryptography", "yaml": "pyyaml"}


def _third_party_imports():
    """Top-level modules that the shipped plugins import and that are neither stdlib nor Ansible."""
    found = set()
    for path in (TOP / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "ansible_collections", "__future__"):
                    found.add(top)
    return found


def test_execution_environment_lists_every_requirement():
    ee = yaml.safe_load((TOP / "meta" / "execution-environment.yml").read_text())
    deps = ee["dependencies"]
    listed = set()
    for line in (TOP / deps["python"]).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            listed.add(re.split(r"[\[<>=!~ ]", line)[0].lower())
    imported = _third_party_imports()
    assert imported, "no third-party import found: the scan is broken"
    for module in sorted(imported):
        assert DISTRIBUTIONS.get(module, module) in listed, "%s is imported by plugins/ but not in %s" % (module, deps["python"])
    # Not imported but loaded by name: the database drivers, and jmespath under community.general's json_query.
    shipped = "\n".join(p.read_text() for d in ("plugins", "roles", "playbooks") for p in (TOP / d).rglob("*")
                        if p.is_file() and p.suffix in (".py", ".yml"))
    assert "json_query" in shipped and "jmespath" in listed
    assert "postgresql+psycopg" in shipped and "psycopg" in listed
    assert "mysql+pymysql" in shipped and "pymysql" in listed
    system = (TOP / deps["system"]).read_text()
    for package in ("openssh-client [platform:dpkg]", "graphviz"):
        assert package in system, package


def test_build_install_and_list(tmp_path):
    meta = yaml.safe_load((TOP / "galaxy.yml").read_text())
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(TOP)],
                   check=True, capture_output=True, text=True)
    tarball = tmp_path / ("cmc-mvc-%s.tar.gz" % meta["version"])
    assert tarball.is_file()

    listing = subprocess.run(["tar", "-tzf", str(tarball)], check=True, capture_output=True, text=True).stdout.split()
    assert "galaxy.yml" not in listing and "MANIFEST.json" in listing
    for ignored in ("tests/system", "tests/lab", "tools", ".ci"):
        assert not any(name.startswith(ignored + "/") for name in listing), ignored
    # tests/run needs tools/, which is not shipped.
    assert "tests/run" not in listing and "tests/unit/requirements.txt" in listing
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert name in listing, name

    # Every collection it depends on is used at run time, by FQCN, in what it ships.
    shipped = "\n".join(p.read_text() for d in ("plugins", "roles", "playbooks") for p in (TOP / d).rglob("*")
                        if p.is_file() and p.suffix in (".py", ".yml", ".j2"))
    for dep in meta["dependencies"]:
        assert dep + "." in shipped, "%s is a dependency in galaxy.yml, but nothing shipped uses it" % dep
    required = [c["name"] for c in yaml.safe_load((TOP / "requirements.yml").read_text())["collections"]]
    assert sorted(required) == sorted(meta["dependencies"]), required

    dest = tmp_path / "installed"
    # --no-deps: the dependencies come from PyPI's ansible package here; Galaxy is unreachable.
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(dest), str(tarball)],
                   check=True, capture_output=True, text=True)
    installed = dest / "ansible_collections" / "cmc" / "mvc"
    assert (installed / "meta" / "runtime.yml").is_file()

    env = {"ANSIBLE_COLLECTIONS_PATH": str(dest), "PATH": subprocess.os.environ["PATH"],
           "HOME": subprocess.os.environ.get("HOME", "/root")}
    modules = _plugins("modules")
    inventories = _plugins("inventory")
    assert modules or inventories, "the collection ships no plugin to list"
    for kind, names in (("module", modules), ("inventory", inventories)):
        out = subprocess.run(["ansible-doc", "-t", kind, "-l", "cmc.mvc", "-j"], env=env,
                             check=True, capture_output=True, text=True).stdout
        listed = set(json.loads(out))
        assert listed == {"cmc.mvc." + n for n in names}

    # Its playbooks run by FQCN from the installed copy: each parses, and deploy_mvc runs as far as the request
    # check, which refuses a bad cluster name by its field.
    for playbook in sorted(p[:-4] for p in os.listdir(TOP / "playbooks") if p.endswith(".yml")):
        subprocess.run(["ansible-playbook", "cmc.mvc." + playbook, "--syntax-check"], env=env, check=True,
                       capture_output=True, text=True)
    bad = subprocess.run(["ansible-playbook", "cmc.mvc.deploy_mvc", "-e",
                          json.dumps({"vcluster": {"name": "Bad_Name", "owner": "alice"}, "mvc_database": str(tmp_path / "db.sqlite"),
                                      "mvc_supernode": "sn.example.org:7654"})],
                         env=env, check=False, capture_output=True, text=True)
    assert bad.returncode != 0 and "vcluster.name: " in bad.stdout, bad.stdout[-2000:]
    assert not (tmp_path / "db.sqlite").exists()
