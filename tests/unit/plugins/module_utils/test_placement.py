# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement: property-based tests (hypothesis) and a few worked examples."""
from __future__ import annotations

import collections

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.cmc.mvc.plugins.module_utils import _placement as pl

RES = (("vcpus", "cpus"), ("memory_mb", "memory_mb"), ("disk_gb", "disk_gb"))
SITES = ["osaka", "sdsc", "ucsd", "nchc"]
# Per test, not a global profile: other test modules keep their own settings.
MVC = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def host_list(draw_sizes):
    return [dict(name="h%d-%s" % (i, site), site=site, cpus=c, memory_mb=m, disk_gb=d)
            for i, (site, c, m, d) in enumerate(draw_sizes)]


hosts_st = st.lists(st.tuples(st.sampled_from(SITES), st.integers(-2, 16), st.integers(0, 16384), st.integers(0, 200)),
                    min_size=1, max_size=8).map(host_list)
size_st = st.tuples(st.integers(1, 4), st.integers(64, 4096), st.integers(1, 40))


def cluster(count, fe, cn, prefix="c"):
    nodes = [dict(name="%s-frontend" % prefix, role="frontend", vcpus=fe[0], memory_mb=fe[1], disk_gb=fe[2])]
    nodes += [dict(name="%s-compute-%d" % (prefix, i), role="compute", vcpus=cn[0], memory_mb=cn[1], disk_gb=cn[2])
              for i in range(count)]
    return nodes


def usage(nodes, result):
    used = collections.defaultdict(lambda: {"cpus": 0, "memory_mb": 0, "disk_gb": 0})
    by_name = dict((n["name"], n) for n in nodes)
    for name, host in result.items():
        for nres, hres in RES:
            used[host][hres] += by_name[name][nres]
    return used


def assert_within(hosts, nodes, result):
    assert sorted(result) == sorted(n["name"] for n in nodes)
    used = usage(nodes, result)
    for h in hosts:
        for _n, hres in RES:
            assert used[h["name"]][hres] == 0 or used[h["name"]][hres] <= h[hres], (h, used[h["name"]])


@MVC
@given(hosts=hosts_st, count=st.integers(0, 12), fe=size_st, cn=size_st,
       policy=st.sampled_from(["spread", "pack"]))
def test_never_exceeds_free_capacity_and_errors_say_the_shortfall(hosts, count, fe, cn, policy):
    nodes = cluster(count, fe, cn)
    try:
        result = pl.place(hosts, nodes, policy)
    except pl.PlacementError as exc:
        assert exc.field.startswith("vcluster")
        for res, short, where in exc.shortfalls:
            assert short > 0 and where
        totals_short = []
        for nres, hres in RES:
            need = sum(n[nres] for n in nodes)
            have = sum(max(h[hres], 0) for h in hosts)
            if need > have:
                totals_short.append((nres, need - have))
        if totals_short:
            # Not enough in total: the error says which resource and by exactly how much, for every site.
            assert [(r, s) for r, s, _w in exc.shortfalls] == totals_short
            assert "short of %d" % totals_short[0][1] in str(exc)
            assert all(sorted(w) == sorted(set(h["site"] for h in hosts)) for _r, _s, w in exc.shortfalls)
        return
    assert_within(hosts, nodes, result)


@MVC
@given(hosts=hosts_st, count=st.integers(0, 12), cn=size_st, policy=st.sampled_from(["spread", "pack"]))
def test_identical_nodes_always_fit_when_the_hosts_can_take_them(hosts, count, cn, policy):
    nodes = cluster(count, cn, cn)
    room = sum(max(min(h[hres] // n for n, (_nr, hres) in zip(cn, RES)), 0) for h in hosts)
    try:
        result = pl.place(hosts, nodes, policy)
    except pl.PlacementError:
        assert room < len(nodes)
    else:
        assert room >= len(nodes)
        assert_within(hosts, nodes, result)


@MVC
@given(n_sites=st.integers(1, 4), per_site=st.integers(1, 4), count=st.integers(0, 30))
def test_spread_balances_sites_then_hosts(n_sites, per_site, count):
    hosts = [dict(name="h%d-%d" % (s, i), site=SITES[s], cpus=64, memory_mb=1 << 20, disk_gb=10000)
             for s in range(n_sites) for i in range(per_site)]
    nodes = cluster(count, (1, 512, 4), (1, 256, 2))
    result = pl.place(hosts, nodes, "spread")
    site_of = dict((h["name"], h["site"]) for h in hosts)
    per_s = collections.Counter(site_of[h] for h in result.values())
    counts = [per_s.get(SITES[s], 0) for s in range(n_sites)]
    assert max(counts) - min(counts) <= 1
    per_h = collections.Counter(result.values())
    for s in range(n_sites):
        hc = [per_h.get("h%d-%d" % (s, i), 0) for i in range(per_site)]
        assert max(hc) - min(hc) <= 1


@MVC
@given(hosts=st.lists(st.integers(0, 10), min_size=1, max_size=8), count=st.integers(0, 25))
def test_pack_fills_hosts_in_order(hosts, count):
    hosts = [dict(name="h%d" % i, site=SITES[i % 2], cpus=c, memory_mb=1 << 20, disk_gb=1000) for i, c in enumerate(hosts)]
    nodes = cluster(count, (1, 1, 1), (1, 1, 1))
    assume(sum(h["cpus"] for h in hosts) >= len(nodes))
    # pack follows the order of sites first (osaka before sdsc), then of hosts within a site.
    result = pl.place(hosts, nodes, "pack", sites=["osaka", "sdsc"])
    order = [h for s in ("osaka", "sdsc") for h in hosts if h["site"] == s]
    used = collections.Counter(result.values())
    last = max(i for i, h in enumerate(order) if used[h["name"]])
    for h in order[:last]:
        assert used[h["name"]] == h["cpus"], "an earlier host was left with room"
    for h in order[last + 1:]:
        assert used[h["name"]] == 0


@MVC
@given(quota=st.dictionaries(st.sampled_from(SITES), st.integers(0, 6), min_size=1, max_size=4),
       per_site=st.integers(1, 3), spare=st.booleans())
def test_per_site_counts_are_honoured(quota, per_site, spare):
    hosts = [dict(name="h-%s-%d" % (s, i), site=s, cpus=4, memory_mb=8192, disk_gb=100) for s in SITES for i in range(per_site)]
    count = sum(quota.values())
    nodes = cluster(count, (1, 512, 4), (1, 256, 2))
    fits = all(q + (1 if s == next(iter(quota)) else 0) <= 4 * per_site for s, q in quota.items())
    try:
        result = pl.place(hosts, nodes, quota)
    except pl.PlacementError as exc:
        assert not fits
        assert exc.shortfalls and exc.shortfalls[0][0] == "vcpus" and len(exc.shortfalls[0][2]) == 1
        return
    assert fits
    assert_within(hosts, nodes, result)
    site_of = dict((h["name"], h["site"]) for h in hosts)
    got = collections.Counter(site_of[result[n["name"]]] for n in nodes if n["role"] == "compute")
    assert dict((s, q) for s, q in quota.items() if q) == dict(got)
    # The frontend is not counted in the mapping; it goes to the first site named there.
    assert site_of[result["c-frontend"]] == next(iter(quota))


@MVC
@given(hosts=hosts_st, count=st.integers(1, 10), delta=st.integers(-10, 10), policy=st.sampled_from(["spread", "pack"]))
def test_replanning_keeps_existing_nodes_in_place(hosts, count, delta, policy):
    before = cluster(count, (1, 256, 2), (1, 256, 2))
    try:
        first = pl.place(hosts, before, policy)
    except pl.PlacementError:
        return
    after = cluster(max(count + delta, 0), (1, 256, 2), (1, 256, 2))
    try:
        second = pl.place(hosts, after, policy, existing=first)
    except pl.PlacementError:
        assert delta > 0
        return
    assert_within(hosts, after, second)
    for name, host in second.items():
        if name in first:
            assert first[name] == host


def test_capacity_used_by_another_cluster_is_not_given_twice():
    hosts = [dict(name="a", site="osaka", cpus=4, memory_mb=4096, disk_gb=100)]
    first = cluster(2, (1, 512, 4), (1, 512, 4), prefix="one")
    pl.place(hosts, first)
    left = [dict(hosts[0], cpus=4 - 3, memory_mb=4096 - 1536, disk_gb=100 - 12)]
    with pytest.raises(pl.PlacementError) as err:
        pl.place(left, cluster(1, (1, 512, 4), (1, 512, 4), prefix="two"))
    assert "short of 1 vCPUs (need 2, free 1)" in str(err.value) and "osaka" in str(err.value)


def test_error_names_resource_amount_and_sites():
    hosts = [dict(name="a", site="osaka", cpus=8, memory_mb=2048, disk_gb=100),
             dict(name="b", site="sdsc", cpus=8, memory_mb=1024, disk_gb=100)]
    with pytest.raises(pl.PlacementError) as err:
        pl.place(hosts, cluster(4, (1, 512, 4), (1, 1024, 2)))
    msg = str(err.value)
    assert msg.startswith("vcluster.compute.count: 5 node(s) do not fit at site(s) osaka, sdsc: ")
    assert "short of 1536 MB of memory (need 4608, free 3072)" in msg and "vCPUs" not in msg
    assert err.value.shortfalls == [("memory_mb", 1536, ["osaka", "sdsc"])]


def test_error_when_no_single_host_is_big_enough():
    hosts = [dict(name="a", site="osaka", cpus=2, memory_mb=4096, disk_gb=100),
             dict(name="b", site="osaka", cpus=2, memory_mb=4096, disk_gb=100)]
    with pytest.raises(pl.PlacementError, match=r"c-frontend does not fit on any host at site\(s\) osaka: 1 vCPUs more"):
        pl.place(hosts, cluster(0, (3, 512, 4), (1, 1, 1)))


def test_per_site_error_names_that_site():
    hosts = [dict(name="a", site="osaka", cpus=8, memory_mb=8192, disk_gb=100),
             dict(name="b", site="sdsc", cpus=2, memory_mb=8192, disk_gb=100)]
    with pytest.raises(pl.PlacementError) as err:
        pl.place(hosts, cluster(5, (1, 512, 4), (1, 256, 2)), {"osaka": 1, "sdsc": 4})
    assert "at site(s) sdsc: short of 2 vCPUs (need 4, free 2)" in str(err.value)


def test_frontend_site_and_allowed_sites():
    hosts = [dict(name="a", site="osaka", cpus=8, memory_mb=8192, disk_gb=100),
             dict(name="b", site="sdsc", cpus=8, memory_mb=8192, disk_gb=100),
             dict(name="c", site="ucsd", cpus=8, memory_mb=8192, disk_gb=100)]
    result = pl.place(hosts, cluster(4, (1, 512, 4), (1, 256, 2)), "spread", sites=["sdsc", "ucsd"], frontend_site="ucsd")
    assert result["c-frontend"] == "c" and set(result.values()) == {"b", "c"}
    with pytest.raises(pl.PlacementError, match="no VM container at site"):
        pl.place(hosts, cluster(1, (1, 512, 4), (1, 256, 2)), "spread", sites=["mars"])
