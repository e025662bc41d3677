# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the one error of a bad input, naming the field at fault.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

The names that other module_utils give it (``_request.RequestError``, ``_addressing.AddressingError``,
``_mvcdb.InputError``, ``_n2n.N2NError``, ``_guest.GuestError``) are this class under another name, so that a
reader sees at the raise which area speaks; an ``except`` of any of them catches every bad input.
``_placement.PlacementError`` is the one subclass: it also carries the shortfalls of a placement.

``check_int`` is the one range check of a number that the overlay's module_utils and filters share."""

from __future__ import annotations

import re
from typing import Any, Optional

_INT_RE = re.compile(r"^-?[0-9]+$")


class FieldError(ValueError):
    """Bad input. ``field`` names it (``vcluster.compute.count``); the message reads ``field: message``.

    A failed step that no field caused has ``field`` None, and its message alone."""

    def __init__(self, field: Optional[str], message: str) -> None:
        super().__init__(self.text(field, message))
        self.field = field

    @staticmethod
    def text(field: Optional[str], message: str) -> str:
        return "%s: %s" % (field, message) if field else message


def check_int(value: Any, field: str, low: int, high: int, what: str) -> int:
    """``value`` as an int from ``low`` to ``high``, or a FieldError naming ``field`` and saying ``what`` was
    expected ("a UDP port"). A string of digits passes, since values templated by Ansible can arrive as text;
    booleans, floats and other text (spaces too: some of these values end up on command lines) do not."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _INT_RE.fullmatch(value))):
        raise FieldError(field, "expected %s, got %r" % (what, value))
    number = int(value)
    if not low <= number <= high:
        raise FieldError(field, "%r is out of range %d-%d (%s)" % (value, low, high, what))
    return number
