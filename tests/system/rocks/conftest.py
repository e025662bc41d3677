# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Rocks stand-in (tests/rocks_standin: generate, sshd) importable by the tests here, which need root."""
from __future__ import annotations

import os
import sys

STANDIN = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "rocks_standin"))
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

if os.geteuid() != 0:  # the system stage runs as root; say so plainly instead of skipping
    raise RuntimeError("tests/system/rocks needs root (network namespaces, private sshd servers)")
