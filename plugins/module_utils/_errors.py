# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: the error of an input that names the field at fault.

Each module_utils file keeps its own subclass (RequestError, InputError, ...), so an ``except`` can stay as
precise as it is; a caller that means "any bad input" catches FieldError."""

from __future__ import annotations


class FieldError(ValueError):
    """Bad input. ``field`` names it (``vcluster.compute.count``); the message reads ``field: message``."""

    def __init__(self, field, message):
        super().__init__(self.text(field, message))
        self.field = field

    @staticmethod
    def text(field, message):
        return "%s: %s" % (field, message)
