# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the lab tests run Ansible: under mitogen or plain, and with the module calls per host counted."""
from __future__ import annotations

import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CALLBACKS = os.path.join(TOP, "tests", "plugins", "callback")
# The lab's playbooks and Molecule scenarios run under mitogen (docs/mitogen.md): measured on the lab, an unchanged
# re-run of the 4-node cluster took 62 s under it against 228 s under plain Ansible, for the same 23 module calls
# per Dom0. Plain Ansible runs the lab's create benchmark, the podman Molecule scenarios and the preflight tests;
# MITOGEN = False runs the lab's playbooks plain as well.
MITOGEN = True


def ansible_env(mitogen=False, module_calls=None):
    """The environment for an ansible-playbook run: under mitogen's strategies (docs/mitogen.md) or plain
    Ansible, and with ``module_calls`` a JSON file that gets the module calls per host (tests/plugins/callback)."""
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ansible.cfg"))
    for key in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
        env.pop(key, None)
    if mitogen:
        import ansible_mitogen  # pylint: disable=import-outside-toplevel
        env["ANSIBLE_STRATEGY_PLUGINS"] = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
        env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    if module_calls:
        env["ANSIBLE_CALLBACK_PLUGINS"] = CALLBACKS
        env["ANSIBLE_CALLBACKS_ENABLED"] = "mvc_module_calls"
        env["MVC_MODULE_CALLS_FILE"] = module_calls
    return env
