"""An execution environment (AWX, Ansible Automation Platform) built with ansible-builder gets everything cmc.mvc
needs: its Python libraries, its system packages and the collections it depends on (docs/docsite/rst/awx.rst).

ansible-builder builds in two steps: `create` writes a build context (a Containerfile and the files it copies),
and in the image `ansible-galaxy` installs the collections, then `ansible-builder introspect` reads each one's
`meta/execution-environment.yml` for its Python and system requirements. Both steps run here on the built
tarball, without containers or network (a few seconds).
"""
from __future__ import annotations

import pathlib
import re
import subprocess

import pytest
import yaml

TOP = pathlib.Path(__file__).resolve().parents[2]


def _lines(path):
    """Requirement lines of a pip or bindep file, comments and blanks dropped."""
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def _run(*argv, cwd=None):
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection as a tarball from ansible-galaxy, installed offline: what an EE's galaxy step gets."""
    tmp = tmp_path_factory.mktemp("ee")
    version = yaml.safe_load((TOP / "galaxy.yml").read_text())["version"]
    _run("ansible-galaxy", "collection", "build", "--output-path", str(tmp), str(TOP))
    dest = tmp / "collections"
    _run("ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(dest),
         str(tmp / ("cmc-mvc-%s.tar.gz" % version)))
    assert (dest / "ansible_collections" / "cmc" / "mvc" / "meta" / "execution-environment.yml").is_file()
    return dest


def test_builder_context_from_the_collection_metadata(tmp_path):
    """`ansible-builder create` on meta/execution-environment.yml puts every requirement it names in the context."""
    meta = TOP / "meta" / "execution-environment.yml"
    deps = yaml.safe_load(meta.read_text())["dependencies"]
    assert set(deps) >= {"python", "system"}, deps
    work = tmp_path / "definition"
    work.mkdir()
    (work / "execution-environment.yml").write_text(meta.read_text())
    for key in ("python", "system"):
        (work / deps[key]).write_text((TOP / deps[key]).read_text())
    _run("ansible-builder", "create", "-f", "execution-environment.yml", "-c", str(tmp_path / "context"), cwd=work)

    build = tmp_path / "context" / "_build"
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    for key, name, expected in (("python", "requirements.txt", TOP / "requirements.txt"),
                                ("system", "bindep.txt", TOP / "bindep.txt")):
        assert (build / name).is_file(), "%s: ansible-builder put no %s in the build context" % (key, name)
        missing = set(_lines(expected)) - set(_lines(build / name))
        assert not missing, "%s of %s missing from the build context: %s" % (key, expected.name, sorted(missing))
        assert "COPY _build/%s" % name in containerfile


def test_awx_definition_gets_the_collection_its_dependencies_and_their_requirements(tmp_path, installed):
    """The EE definition of docs/docsite/rst/awx.rst: its context installs cmc.mvc and every collection it depends
    on, and introspecting the installed collection (the image's next step) yields every Python and system
    requirement of requirements.txt and bindep.txt."""
    galaxy = yaml.safe_load((TOP / "galaxy.yml").read_text())
    required = {c["name"] for c in yaml.safe_load((TOP / "requirements.yml").read_text())["collections"] or []}
    assert set(galaxy["dependencies"]) <= required, "galaxy.yml dependencies missing from requirements.yml"

    work = tmp_path / "definition"
    work.mkdir()
    collections = [{"name": "cmc.mvc"}] + [{"name": name} for name in sorted(required)]
    (work / "execution-environment.yml").write_text(yaml.safe_dump({
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {"galaxy": {"collections": collections}},
    }))
    _run("ansible-builder", "create", "-f", "execution-environment.yml", "-c", str(tmp_path / "context"), cwd=work)
    context = tmp_path / "context"
    in_context = {c["name"] for c in yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]}
    missing = ({"cmc.mvc"} | set(galaxy["dependencies"])) - in_context
    assert not missing, "collections missing from the build context: %s" % sorted(missing)
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile

    pip, bindep = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    _run("ansible-builder", "introspect", str(installed), "--write-pip", str(pip), "--write-bindep", str(bindep))
    for expected, found in ((TOP / "requirements.txt", pip), (TOP / "bindep.txt", bindep)):
        got = set(_lines(found))
        missing = set(_lines(expected)) - got
        assert not missing, "introspection of the installed cmc.mvc misses %s of %s" % (sorted(missing), expected.name)
        assert all(re.search(r"#\s*from collection cmc\.mvc", line) for line in found.read_text().splitlines()
                   if line.strip()), found.read_text()
