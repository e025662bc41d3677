# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mark data that came from remote hosts as unsafe (never templated).

Note that this plugin util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import typing as t

from ansible.utils.unsafe_proxy import wrap_var


def make_unsafe(value: t.Any) -> t.Any:
    """Return ``value`` with every string in it marked unsafe (recursing into dicts, lists and sets)."""
    return wrap_var(value)
