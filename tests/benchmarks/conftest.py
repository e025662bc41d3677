# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks print their ratios for the reader of the test log. pytest would keep a passing test's output to
itself, so it is written out at the end of the run, under the benchmark's name."""
from __future__ import annotations

import os

HERE = os.path.basename(os.path.dirname(os.path.abspath(__file__)))


def pytest_terminal_summary(terminalreporter):
    for report in terminalreporter.stats.get("passed", []):
        if "/%s/" % HERE in "/" + report.nodeid and report.when == "call" and report.capstdout:
            terminalreporter.write_sep("-", "benchmark " + report.nodeid)
            terminalreporter.write(report.capstdout.lstrip("\n"))
