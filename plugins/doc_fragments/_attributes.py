# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to this collection: the names and texts may change at any time; other collections should not use it.

from __future__ import annotations


class ModuleDocFragment:
    """The check_mode and diff_mode attributes, written once for the modules.

    ansible-doc merges fragments attribute by attribute, and the first to give a key keeps it: the module's own
    ``attributes:`` first, then the fragments in the order listed. So a module lists this base fragment, then the
    variants that give the support level, and writes in its own ``attributes:`` only the ``details`` (or the
    ``description``) that are its own. READ_ONLY carries its own descriptions and is listed without the base.
    """

    # The general descriptions; the support level comes from a variant below.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    CHECK_MODE_FULL = r"""
options: {}
attributes:
  check_mode:
    support: full
"""

    DIFF_MODE_FULL = r"""
options: {}
attributes:
  diff_mode:
    support: full
"""

    # With the base fragment, for a module that only reads a database or a host.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Only reads.
  diff_mode:
    support: none
    details: Nothing changes.
"""

    # Alone (not with the base fragment), for the modules that only read a host and say so in the description.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""
