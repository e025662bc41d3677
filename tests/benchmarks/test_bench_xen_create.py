# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Creating N Xen domains on one Dom0 (N = 1, 2 with raw xl create, N = 1 with the module), measured on the lab in this same pytest run
(N > 1 only all at once: the one-after-another baseline of N domains is N one-domain runs; measured once, two
domains one after another took 1.10 (raw) and 0.90 (module) of twice one domain)
(tests/system/lab/test_domains_create_concurrency.py writes the timings). Each domain counts until it answers
ping. Printed as ratios, since these machines are noisy:
- all at once over one after another, for raw ``xl create`` and for cmc.mvc.xl_domain (one Ansible host per
  domain); 1 would mean no gain, 1/N a perfect one;
- the module over raw ``xl create``, the same way (its overhead)."""
from __future__ import annotations

import json
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMINGS = os.path.join(TOP, "tests", "output", "create-timings.json")


def test_create_time_ratios():
    assert os.path.isfile(TIMINGS), "no timings: the create test on the lab did not complete in this run"
    with open(TIMINGS) as f:
        t = json.load(f)
    counts = {way: sorted(t[way]["concurrent"], key=int) for way in ("raw", "module")}
    assert counts == {"raw": ["1", "2"], "module": ["1"]}, counts
    assert list(t["raw"]["serial"]) == list(t["module"]["serial"]) == ["1"], t
    print("\n%3s %-10s %9s %9s %8s %8s" % ("N", "way", "serial s", "at once s", "ratio", "ideal"))
    for way in ("raw", "module"):
        for n in counts[way]:
            # N > 1 is not run one after another: its baseline is N runs of one domain (marked *).
            s = t[way]["serial"].get(n, int(n) * t[way]["serial"]["1"])
            c = t[way]["concurrent"][n]
            print("%3s %-10s %8.1f%s %9.1f %8.2f %8.2f" % (n, way, s, " " if n in t[way]["serial"] else "*", c, c / s,
                                                           1.0 / int(n)))
    print("(* = N x the one-domain run)")
    for n in counts["module"]:
        print("N=%s module / raw xl create, at once: %.2f" % (n, t["module"]["concurrent"][n] / t["raw"]["concurrent"][n]))
