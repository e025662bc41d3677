# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the one error of a bad input, naming the field at fault.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

The names that other module_utils give it (``_request.RequestError``, ``_addressing.AddressingError``,
``_mvcdb.InputError``, ``_n2n.N2NError``, ``_guest.GuestError``) are this class under another name, so that a
reader sees at the raise which area speaks; an ``except`` of any of them catches every bad input.
``_placement.PlacementError`` is the one subclass: it also carries the shortfalls of a placement."""

from __future__ import annotations

from typing import Optional


class FieldError(ValueError):
    """Bad input. ``field`` names it (``vcluster.compute.count``); the message reads ``field: message``.

    A failed step that no field caused has ``field`` None, and its message alone."""

    def __init__(self, field: Optional[str], message: str) -> None:
        super().__init__(self.text(field, message))
        self.field = field

    @staticmethod
    def text(field: Optional[str], message: str) -> str:
        return "%s: %s" % (field, message) if field else message
