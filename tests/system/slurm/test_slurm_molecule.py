# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the Molecule scenario extensions/molecule/slurm_cluster (the cmc.mvc.slurm and cmc.mvc.openmpi roles on a
frontend and two compute containers at two sites: sinfo lines, jobs by partition and feature, --switches, MPI jobs
as a user over PMIx and mpirun with no warnings, identical slurm.conf and MCA parameters, check mode, idempotence)
under mitogen, and checks that the munge key never shows in the -vvv log."""
from __future__ import annotations

import base64
import os
import secrets

import ansible_mitogen
from molecule_scenario import run_scenario  # pylint: disable=import-error  # tests/system is on sys.path


if os.geteuid() != 0:  # podman, network namespaces: the system stage runs as root; say so instead of skipping
    raise RuntimeError("tests/system/slurm needs root (podman, network namespaces)")


def test_slurm_cluster_scenario(tmp_path):
    key = base64.b64encode(secrets.token_bytes(128)).decode()
    env = dict(os.environ, MVC_SLURM_TEST_MUNGE_KEY=key)
    # -vvv: module arguments, results and loop items are all in the log, where the key may not show.
    env["ANSIBLE_VERBOSITY"] = "3"
    # mitogen (docs/mitogen.md): one warm interpreter per container; the inventory then takes its podman connection.
    env["ANSIBLE_STRATEGY_PLUGINS"] = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
    env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    log = tmp_path / "molecule.log"
    print("log: %s" % log)
    text = run_scenario("slurm_cluster", env, log, r"built localhost/cmc-mvc-containers|is cached|cluster up in")
    # Results carry their module arguments ("invocation") only at -vvv.
    assert "module_args" in text, "the Molecule log is not at -vvv"
    print("Molecule log at -vvv: %d bytes" % len(text))
    # The key as given, and as the node holds it (slurp returns the file in base64, the same text).
    leaks = text.count(key)  # a count only: never print the key
    print("munge key occurrences in the Molecule log: %d" % leaks)
    assert leaks == 0, "the munge key appears in the Molecule log %d times" % leaks
