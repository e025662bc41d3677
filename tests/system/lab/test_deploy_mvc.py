# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cmc.mvc.deploy_mvc end to end on the lab: sites from the Rocks stand-ins, the MVC database on SQLite, the
supernode, N2N edges across both NATs, Xen domains installed with the requested OS, user and package, login
through the jump hosts, Slurm, shared /home and Open MPI; then re-run, faults, a second cluster on the other overlay
backend (WireGuard + VXLAN) isolated from the first on the same Dom0s, scaling, status and destroy. The second
cluster is deployed, scaled, shown and destroyed as a non-root user on the Dom0s who escalates with become
(sudo), as on sites that forbid root logins; the first as root.

The tests run in order and share one deployment (module fixture). Timings go to tests/output for the deploy
benchmark (tests/benchmarks/test_bench_deploy.py), and the throughput over both overlays for the overlay benchmark
(tests/benchmarks/test_bench_overlay.py)."""
from __future__ import annotations

import html
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest
import yaml

from lab_ansible import MITOGEN, ansible_env  # pylint: disable=import-error  # tests/system/lab is on sys.path

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TIMINGS = os.path.join(TOP, "tests", "output", "deploy-timings.json")
OVERLAY_RATES = os.path.join(TOP, "tests", "output", "overlay-lab-rates.json")
DOM0_SUDO_USER = "mvcadmin"  # the lab's non-root user on its Dom0s (tests/lab/mvc-lab)
# The n2n clusters' MTU: the lab's 1500-byte underlay less N2N v1's 136 bytes.
N2N_MTU = 1364
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=60"]


def playbook(name, inventory, *extra, timeout=3600, mitogen=MITOGEN, module_calls=None):
    t0 = time.time()
    p = subprocess.run(["ansible-playbook", "cmc.mvc." + name, "-i", inventory] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=timeout,
                       env=ansible_env(mitogen=mitogen, module_calls=module_calls))
    p.elapsed = time.time() - t0
    if module_calls:
        with open(module_calls) as f:
            p.module_calls = json.load(f)
    return p


def dom0_calls(p):
    """The module calls that a run made on each Dom0 (the VM containers), its own and its domains'
    (``<node>@<Dom0>``, delegated to it)."""
    calls = {}
    for host, n in p.module_calls.items():
        dom0 = host.rsplit("@", 1)[-1]
        if dom0.startswith("vm-container-"):
            calls[dom0] = calls.get(dom0, 0) + n
    return calls


def recap(out):
    """changed= and failed= per host of the PLAY RECAP."""
    return dict((m.group(1), (int(m.group(2)), int(m.group(3)))) for m in re.finditer(
        r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", out, re.M))


def logins(out):
    """name -> (site, overlay IP, ssh argv) from the deploy's login summary."""
    found = {}
    for m in re.finditer(r'"msg": "(\S+) \((?:frontend|compute)\) at site (\S+) on \S+, overlay ([\d.]+):\s*ssh (.*?)"$',
                         out, re.M):
        command = m.group(4).encode().decode("unicode_escape")
        found[m.group(1)] = (m.group(2), m.group(3), ["ssh"] + shlex.split(command))
    return found


class Cluster:
    def __init__(self, work, name, count, key_pub, sudo=True, services=None, packages=("bc",), uid=None,
                 backend=None):
        self.name = name
        self.backend = backend
        self.request = os.path.join(work, name + ".json")
        self.services = services
        self.packages = list(packages)
        self.uid = uid
        self.write(count, key_pub, sudo)

    def write(self, count, key_pub, sudo=True):
        req = {"vcluster": {"name": self.name, "owner": "alice", "placement": "spread",
                            "frontend": {"vcpus": 1, "memory_mb": 256, "disk_gb": 1},
                            "compute": {"count": count, "vcpus": 1, "memory_mb": 256, "disk_gb": 1},
                            "packages": self.packages, "users": [{"name": "alice", "ssh_keys": [key_pub], "sudo": sudo}]}}
        if self.uid is not None:
            req["vcluster"]["users"][0]["uid"] = self.uid
        if self.services is not None:
            req["vcluster"]["services"] = self.services
        if self.backend is not None:
            req["vcluster"]["overlay"] = {"backend": self.backend}
        with open(self.request, "w") as f:
            json.dump(req, f)


@pytest.fixture(scope="module")
def world(lab_session, tmp_path_factory):
    lab = lab_session.up()
    lab["helper"] = lab_session
    work = str(tmp_path_factory.mktemp("deploy"))
    inventory = os.path.join(work, "inventory")
    lab["helper"].cli("inventory", inventory)
    # The same lab and MVC database, but the VM containers reached as the lab's non-root user with become.
    inventory_sudo = os.path.join(work, "inventory-sudo")
    lab["helper"].cli("inventory", inventory_sudo, "--dom0-user", DOM0_SUDO_USER)
    with open(os.path.join(inventory, "group_vars", "all.yml")) as f:
        shared = yaml.safe_load(f)
    path = os.path.join(inventory_sudo, "group_vars", "all.yml")
    with open(path) as f:
        allvars = yaml.safe_load(f)
    allvars.update((k, shared[k]) for k in ("mvc_database", "mvc_ssh_config_dir"))
    with open(path, "w") as f:
        json.dump(allvars, f)
    key = os.path.join(work, "alice")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@e2e", "-f", key], check=True)
    with open(key + ".pub") as f:
        pub = f.read().strip()
    for path in (TIMINGS, OVERLAY_RATES):  # never let the benchmarks read an earlier run's numbers
        if os.path.exists(path):
            os.unlink(path)
    w = {"work": work, "inventory": inventory, "inventory_sudo": inventory_sudo, "key": key, "pub": pub, "lab": lab, "timings": {}}
    yield w
    # Whatever a failed test left: remove both clusters (harmless when they are gone).
    for name in ("e2e2", "e2e1"):
        playbook("destroy_mvc", inventory, "-e", "mvc_cluster=" + name)


def node_statuses(world, cluster):
    """name -> status of the cluster's nodes in the MVC database, read with cmc.mvc.vcluster_info."""
    p = subprocess.run(["ansible", "localhost", "-i", world["inventory"], "-m", "cmc.mvc.vcluster_info",
                        "-a", "database={{ mvc_database }} names=%s" % cluster, "-o"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    line = [x for x in p.stdout.splitlines() if x.startswith("localhost | SUCCESS => ")][0]
    data = json.loads(line.split("=>", 1)[1])
    return dict((n["name"], n["status"]) for c in data["clusters"] for n in c["nodes"])


def db_key(world, cluster, column="n2n_key"):
    """A key of the cluster, read from the lab's MVC database file (stored in clear there)."""
    assert column in ("n2n_key", "munge_key")
    with open(os.path.join(world["inventory"], "group_vars", "all.yml")) as f:
        database = yaml.safe_load(f)["mvc_database"]
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT %s FROM mvc_clusters WHERE name = ?" % column, (cluster,)).fetchone()[0]


def broken_inventory(world, name, frontend_down=False, vm_container_down=False):
    """A copy of the lab inventory in which site sdsc does not answer: its frontend (the Rocks query and the hop
    refused on port 1; the VM containers then come only from the Rocks sources, as for a real site), or its
    VM container (SSH port 1 through the frontend, with a connection of its own rather than a live master)."""
    inv = os.path.join(world["work"], name)
    shutil.copytree(world["inventory"], inv)
    if frontend_down:
        path = os.path.join(inv, "sites.rocks.yml")
        with open(path) as f:
            config = yaml.safe_load(f)
        for fe in config["frontends"]:
            if fe["site"] == "sdsc":
                fe["port"] = 1
        with open(path, "w") as f:
            json.dump(config, f)
        path = os.path.join(inv, "hosts.yml")
        with open(path) as f:
            hosts = yaml.safe_load(f)
        del hosts["all"]["children"]["vm_containers"]
        with open(path, "w") as f:
            yaml.safe_dump(hosts, f)
    if vm_container_down:
        os.makedirs(os.path.join(inv, "host_vars"), exist_ok=True)
        with open(os.path.join(inv, "host_vars", "vm-container-0-0.sdsc.yml"), "w") as f:
            f.write("ansible_port: 1\nansible_control_path: \"%(directory)s/mvc-fault-%%r\"\n")
    return inv


def supernode_ip(world):
    with open(os.path.join(world["inventory"], "hosts.yml")) as f:
        hosts = yaml.safe_load(f)
    return hosts["all"]["children"]["mvc_supernodes"]["hosts"]["supernode"]["mvc_public_ip"]


def deploy_over_a_small_path(world, request, dom0, mtu):
    """deploy_mvc while ``dom0``'s route to the supernode has an MTU of ``mtu`` (a route of its own, removed after)."""
    sn = supernode_ip(world)
    helper = world["lab"]["helper"]
    helper.ssh(dom0, "ip route replace %s/32 $(ip route get %s | head -1 | sed -E 's/^[^ ]+ //; s/ src .*//') "
                     "mtu lock %d" % (sn, sn, mtu))
    try:
        return playbook("deploy_mvc", world["inventory"], "-e", "@" + request)
    finally:
        helper.ssh(dom0, "ip route del %s/32" % sn)


def on_dom0s(world, cluster):
    """What of ``cluster`` each Dom0 has: domains, configs, disks, edge keys."""
    return dict((dom0, [line for line in out.splitlines() if cluster in line])
                for dom0, out in dom0_run(world, "xl list; find /etc/xen/mvc /var/lib/xen/mvc /etc/n2n/mvc").items())


def descendants(pid):
    """The processes that ``pid`` started, and theirs, read from /proc: recorded so that each can be ended by its id."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = []
        try:
            for task in os.listdir("/proc/%d/task" % parent):
                with open("/proc/%d/task/%s/children" % (parent, task)) as f:
                    children += [int(x) for x in f.read().split()]
        except OSError:  # it ended meanwhile
            pass
        found += children
        todo += children
    return found


def killed_mid_install(world, request):
    """Starts a deploy and kills it while a node's disk is being made, whose module goes on running on the Dom0.
    Killed are its process group and every process it had started, by id: Ansible's workers and mitogen's have
    sessions of their own. Returns the deploy's output up to then."""
    # Under mitogen, as the suite's other runs: plain Ansible took about 9 minutes to get here (2026-12-03), mitogen
    # 110 s.
    killed = subprocess.Popen(["ansible-playbook", "cmc.mvc.deploy_mvc", "-i", world["inventory"], "-e",
                               "@" + request], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True, env=ansible_env(mitogen=MITOGEN))
    seen = []
    try:
        for line in killed.stdout:
            seen.append(line)
            if "Make the node's root filesystem on its disk" in line:
                time.sleep(10)
                break
    finally:
        started = descendants(killed.pid)
        os.killpg(killed.pid, signal.SIGKILL)
        for pid in started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed.wait(timeout=60)
        killed.stdout.close()
    return "".join(seen)


def node_ssh(world, login):
    """The ssh argv to a node as the request's user, ready for a command."""
    return login[2][:-1] + ["-i", world["key"]] + SSH_OPTS + [login[2][-1]]


def node_run(world, login, command, check=True):
    argv = node_ssh(world, login) + [command]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False, timeout=300)
    if check:
        assert p.returncode == 0, "%s: %s%s" % (login[1], p.stdout, p.stderr)
    return p


def dom0_run(world, command):
    helper = world["lab"]["helper"]
    return {vm["inventory_name"]: helper.ssh(vm["inventory_name"], command, check=False).stdout
            for _site, vm in helper.vm_containers(world["lab"])}


@pytest.fixture(scope="module")
def first(world):
    # A uid that useradd would not pick on its own (the first free one is 1000).
    c = Cluster(world["work"], "e2e1", 3, world["pub"], uid=3001)
    # First, sdsc's Dom0 reaches the supernode over a path too small for the overlay's MTU: no Dom0 may change.
    c.fault_mtu = deploy_over_a_small_path(world, c.request, "vm-container-0-0.sdsc", 1400)
    c.fault_mtu_statuses = node_statuses(world, "e2e1")
    c.fault_mtu_left = on_dom0s(world, "e2e1")
    p = playbook("deploy_mvc", world["inventory"], "-e", "@" + c.request,
                 module_calls=os.path.join(world["work"], "deploy-calls.json"))
    assert p.returncode == 0, p.stdout[-6000:]
    world["timings"]["deploy_s"] = p.elapsed
    world["timings"]["deploy_dom0_calls"] = dom0_calls(p)
    c.out = p.stdout
    c.logins = logins(p.stdout)
    return c


def test_deploy_places_four_nodes_over_both_sites_and_prints_logins(first):
    assert sorted(first.logins) == ["e2e1-compute-0", "e2e1-compute-1", "e2e1-compute-2", "e2e1-frontend"]
    assert {site for site, _ip, _argv in first.logins.values()} == {"osaka", "sdsc"}
    # The short login: ssh -F <the cluster's SSH config> <node>, as the request's user (every test below logs in so).
    for name, (_site, ip, argv) in first.logins.items():
        assert argv[:2] == ["ssh", "-F"] and argv[3:] == [name], argv
        config = open(argv[2]).read()
        assert "Host %s\n  HostName %s\n  User alice\n" % (name, ip) in config, config
        assert oct(os.stat(argv[2]).st_mode & 0o777) == "0o600"


def test_a_path_too_small_for_the_overlay_mtu_stops_the_deploy_before_any_dom0_changes(first):
    out = first.fault_mtu.stdout
    assert first.fault_mtu.returncode != 0
    assert re.search(r"n2n_edge_clusters\[0\]\.mtu: 1364 does not fit the path from vm-container-0-0\.sdsc to the "
                     r"supernode \S+ \(\S+, MTU 1400\): N2N v1 adds 136 bytes to each packet, so the largest edge MTU "
                     r"there is 1264\.", out), out[-4000:]
    assert "Nothing was changed on any Dom0" in out and "mvc_underlay_mtu=(the smallest path MTU; now 1500)" in out, out[-4000:]
    # Stopped before the supernode and the Dom0s' own play: osaka's Dom0, whose path fits, did nothing either.
    assert "Run the cluster's N2N edge" not in out
    assert set(first.fault_mtu_statuses.values()) == {"planned"}, first.fault_mtu_statuses
    assert all(lines == [] for lines in first.fault_mtu_left.values()), first.fault_mtu_left


def test_the_wait_for_the_nodes_prints_progress_while_it_lasts(first):
    # One line per round from each Dom0, in the normal output: how many of the 4 answer, after how long, and
    # which are awaited. A line with fewer than 4 answering was printed before the wait ended.
    rounds = re.findall(r"^(vm-container-\S+): SSH answers on (\d) of 4 nodes after (\d+) s; waiting for (.+)$",
                        first.out, re.M)
    assert rounds, first.out[-3000:]
    for dom0, answered, _after, waiting in rounds:
        assert int(answered) < 4 and waiting.count("e2e1-") == 4 - int(answered), (dom0, answered, waiting)
    for dom0 in {r[0] for r in rounds}:
        seconds = [int(r[2]) for r in rounds if r[0] == dom0]
        assert seconds == sorted(seconds), seconds
    # Each round's line comes before the task's result.
    assert first.out.index(rounds[0][0] + ": SSH answers on") < first.out.index("TASK [Report this Dom0 done]")


def test_the_disk_install_prints_how_long_so_far_while_it_lasts(first):
    # The lab comes up with empty Dom0 disks, so each Dom0's first install also makes its base image (over a minute
    # under emulation): a line every 15 s, before that node's result of the install task.
    task = first.out.index("TASK [cmc.mvc.guest_os : Make the node's root filesystem on its disk, in one pass on the Dom0]")
    lines = re.findall(r"^((e2e1-[a-z0-9-]+)@vm-container-\S+): installing \2 onto (\S+) \(.*\): (\d+) s so far$",
                       first.out, re.M)
    assert lines, first.out[task:task + 3000]
    for host in {line[0] for line in lines}:
        seconds = [int(line[3]) for line in lines if line[0] == host]
        assert seconds == sorted(set(seconds)) and seconds[0] >= 15, (host, seconds)
        shown = first.out.index("%s: installing" % host)
        assert task < shown < first.out.index("changed: [%s " % host, shown), first.out[shown - 2000:shown + 2000]


def test_every_node_pings_every_other_over_the_overlay_across_nat(world, first):
    # With full-size packets that may not be fragmented: the guests' NICs have the MTU derived from the underlay's
    # (1500 - N2N v1's 136 bytes), and N2N carries it across both NATs in one datagram each.
    ips = sorted(ip for _site, ip, _argv in first.logins.values())
    for name, login in sorted(first.logins.items()):
        others = " ".join(ip for ip in ips if ip != login[1])
        out = node_run(world, login, "hostname; cat /sys/class/net/$(ip -o -4 addr show to %s | cut -d' ' -f2)/mtu; "
                                     "for ip in %s; do ping -c 2 -W 5 -M do -s %d $ip >/dev/null && echo ok $ip "
                                     "|| echo FAILED $ip; done" % (login[1], others, N2N_MTU - 28)).stdout
        assert out.splitlines()[:2] == [name, str(N2N_MTU)], out
        assert out.count("ok ") == 3 and "FAILED" not in out, out


def test_login_as_the_requested_user_with_sudo_and_the_package(world, first):
    out = node_run(world, first.logins["e2e1-frontend"], "id -un; sudo -n true && echo sudo-ok; echo '6*7' | bc").stdout
    assert out.split() == ["alice", "sudo-ok", "42"]


def test_each_domain_says_how_long_it_took_from_boot_to_ssh(world, first):
    # systemd's monotonic clock starts at the domain's kernel boot, right after xl create.
    boot = {}
    for name, login in sorted(first.logins.items()):
        out = node_run(world, login, "sudo -n systemctl show ssh.service -p ActiveEnterTimestampMonotonic --value").stdout
        boot[name] = int(out.strip()) / 1e6
    assert all(0 < s < 1800 for s in boot.values()), boot
    world["timings"]["boot_to_ssh_s"] = boot


def test_the_domains_of_one_dom0_are_made_at_the_same_time(world, first):
    # A domain's config is written as its creation begins, and it starts when its install ends: made one after
    # another, the second's config would be written after the first started. Both times are the Dom0's clock.
    script = ("cd /etc/xen/mvc/e2e1 && for f in *.cfg; do n=${f%.cfg}; vm=$(xenstore-read /local/domain/$(xl domid $n)/vm)"
              " && echo $n $(stat -c %.Y $f) $(xenstore-read $vm/start_time); done")
    together = 0
    for dom0, out in sorted(dom0_run(world, script).items()):
        rows = [line.split() for line in out.splitlines()]
        assert rows and all(len(r) == 3 for r in rows), (dom0, out)
        if len(rows) > 1:
            written, started = [float(r[1]) for r in rows], [float(r[2]) for r in rows]
            assert max(written) < min(started), (dom0, rows)
            together += 1
    assert together > 0, "no Dom0 got more than one domain of e2e1"


def slurm_rows(world, cluster):
    """Sorted (node, partition, state, features) rows of the cluster's sinfo."""
    out = node_run(world, cluster.logins[cluster.name + "-frontend"], "sinfo --noheader --Node --format='%N %P %t %f'").stdout
    return sorted(tuple(line.split()) for line in out.splitlines())


def slurm_rows_wanted(sites):
    """The rows of ``slurm_rows`` for compute nodes {name: site}, each idle in all (the default) and its site."""
    return sorted([(name, "all*", "idle", "site_" + site) for name, site in sites.items()]
                  + [(name, site, "idle", "site_" + site) for name, site in sites.items()])


def srun_hosts(world, cluster, options):
    """The sorted hostnames that ``srun OPTIONS hostname`` prints, run on the cluster's frontend."""
    return sorted(node_run(world, cluster.logins[cluster.name + "-frontend"], "srun %s hostname" % options).stdout.split())


def compute_sites(first):
    return dict((name, site) for name, (site, _ip, _argv) in first.logins.items() if "-compute-" in name)


def test_slurm_has_every_compute_node_idle_in_its_site_partition_and_all(world, first):
    assert slurm_rows(world, first) == slurm_rows_wanted(compute_sites(first))


def test_slurm_runs_a_job_over_both_sites_and_one_on_the_site_asked_for(world, first):
    sites = compute_sites(first)
    one = sorted(n for n, s in sites.items() if s == "osaka")
    other = sorted(n for n, s in sites.items() if s == "sdsc")
    assert one and other, sites
    assert srun_hosts(world, first, "-N3") == sorted(sites)
    assert srun_hosts(world, first, "-p osaka -N%d" % len(one)) == one
    assert srun_hosts(world, first, "-C site_sdsc -N%d" % len(other)) == other


def test_a_job_on_one_site_writes_home_that_a_node_of_the_other_site_reads(world, first):
    sites = compute_sites(first)
    writer = sorted(n for n, s in sites.items() if s == "osaka")[0]
    token = "written-%d" % time.time_ns()
    out = node_run(world, first.logins["e2e1-frontend"],
                   "srun -w %s sh -c 'echo %s $(hostname) > ~/home-check'; "
                   "srun -p sdsc -N1 sh -c 'cat ~/home-check; stat --file-system --format=%%T ~; "
                   "stat --format=%%u:%%g ~/home-check; id -u; id -g'; cat ~/home-check"
                   % (writer, token)).stdout
    # The request's uid, the same on both sites: the file is alice's wherever it is read.
    assert out.splitlines() == ["%s %s" % (token, writer), "nfs", "3001:3001", "3001", "3001", "%s %s" % (token, writer)], out


def test_an_mpi_job_has_ranks_on_both_sites_and_passes_1mib_round_a_ring(world, first):
    out = node_run(world, first.logins["e2e1-frontend"],
                   "srun --mpi=pmix -N3 python3 -m mpi4py.bench helloworld; "
                   "srun --mpi=pmix -N3 python3 -m mpi4py.bench ringtest -n 1048576 -l 3").stdout
    hello = sorted(re.findall(r"^Hello, World! I am process (\d) of 3 on (\S+)\.$", out, re.M))
    assert [rank for rank, _host in hello] == ["0", "1", "2"], out
    assert {host for _rank, host in hello} == set(compute_sites(first)), out
    assert re.search(r"^time for 3 loops = \S+ seconds \(3 processes, 1048576 bytes\)$", out, re.M), out


def test_every_compute_node_keeps_the_frontend_s_time(world, first):
    frontend_ip = first.logins["e2e1-frontend"][1]
    for name in sorted(compute_sites(first)):
        out = node_run(world, first.logins[name], "chronyc -n tracking").stdout
        assert re.search(r"^Reference ID +: [0-9A-F]+ \(%s\)$" % re.escape(frontend_ip), out, re.M), (name, out)
        assert re.search(r"^Leap status +: Normal$", out, re.M), (name, out)


def test_a_compute_node_has_memory_left_with_its_daemons_running(world, first):
    login = first.logins["e2e1-compute-0"]
    out = node_run(world, login, "systemctl is-active munge slurmd; grep -E '^Mem(Total|Available):' /proc/meminfo").stdout
    assert out.split()[:2] == ["active", "active"], out
    mem = dict((k.rstrip(":"), int(v)) for k, v in re.findall(r"^(Mem\w+:)\s+(\d+) kB$", out, re.M))
    print("memory of a 256 MB node with munged and slurmd running: total %d MiB, available %d MiB"
          % (mem["MemTotal"] // 1024, mem["MemAvailable"] // 1024))
    # Room for a few MPI ranks (about 24 MiB each, measured) beside the daemons.
    assert mem["MemAvailable"] // 1024 >= 96, out


# Once, as the suite runs (mitogen): the same re-run under plain Ansible took 568 s against 118 s in the clean-clone
# run of 2026-12-02 (about 10 s per module call on a guest), too much for CI's time.
def test_a_second_identical_run_changes_nothing(world, first):
    calls = os.path.join(world["work"], "rerun-calls.json")
    p = playbook("deploy_mvc", world["inventory"], "-e", "@" + first.request, module_calls=calls)
    assert p.returncode == 0, p.stdout[-4000:]
    changed = dict((host, c) for host, (c, _f) in recap(p.stdout).items() if c)
    assert changed == {}, p.stdout[-4000:]
    world["timings"]["rerun_s"] = p.elapsed
    world["timings"]["rerun_dom0_calls"] = dom0_calls(p)


def sinfo_states(world, cluster):
    """Node -> (state, reason) in Slurm, as the frontend's sinfo says (state lower case, flags after +)."""
    out = node_run(world, cluster.logins[cluster.name + "-frontend"],
                   "sinfo --noheader --Node --partition=all --format='%N|%T|%E'").stdout
    return dict((f[0], (f[1].lower(), f[2])) for f in (line.split("|", 2) for line in out.splitlines()))


def wait_for_states(world, cluster, want, timeout=240):
    """Polls sinfo until each node of ``want`` is in a state that matches its pattern (``absent`` when sinfo does
    not list it); returns the states."""
    deadline = time.monotonic() + timeout
    while True:
        states = sinfo_states(world, cluster)
        if all(re.fullmatch(pattern, states.get(node, ("absent", ""))[0]) for node, pattern in want.items()):
            return states
        assert time.monotonic() < deadline, "after %d s, wanted %s, sinfo says %s" % (timeout, want, states)
        time.sleep(5)


def test_the_health_check_drains_a_node_without_home_or_mtu_path_and_resumes_it(world, first):
    # compute-0 loses its shared /home (the local directory shows through); compute-1's overlay NIC gets a smaller
    # MTU, so the overlay's full-size packets no longer reach the frontend. Nothing else changes.
    c0, c1 = first.logins["e2e1-compute-0"], first.logins["e2e1-compute-1"]
    nic = "$(ip -o -4 addr show to %s | cut -d' ' -f2)"
    try:
        # Stopping the automount may or may not take the NFS mount with it: unmount until /home is the local
        # directory.
        node_run(world, c0, "sudo -n sh -c 'cd / && systemctl stop home.automount home.mount; "
                            "while mountpoint -q /home; do umount -l /home; done; stat -f -c %T /home'")
        node_run(world, c1, "sudo -n ip link set dev %s mtu 1200" % (nic % c1[1]))
        states = wait_for_states(world, first, {"e2e1-compute-0": r"(idle|mixed)\+?drain.*|drained",
                                                "e2e1-compute-1": r"(idle|mixed)\+?drain.*|drained"})
        assert states["e2e1-compute-0"][1] == "health: /home is not nfs (ext2/ext3)", states
        assert states["e2e1-compute-1"][1] == "health: no %d-byte path to the controller" % N2N_MTU, states
        assert states["e2e1-compute-2"][0] == "idle", states
    finally:
        node_run(world, c0, "sudo -n systemctl start home.automount")
        node_run(world, c1, "sudo -n ip link set dev %s mtu %d" % (nic % c1[1], N2N_MTU))
    wait_for_states(world, first, {"e2e1-compute-0": "idle", "e2e1-compute-1": "idle"})


def test_slurmd_stopped_and_a_wrong_munge_key_are_mended_by_a_rerun(world, first):
    c1, c2 = first.logins["e2e1-compute-1"], first.logins["e2e1-compute-2"]
    fe = first.logins["e2e1-frontend"]
    node_run(world, c1, "sudo -n systemctl stop slurmd")
    node_run(world, c2, "sudo -n sh -c 'head -c 128 /dev/urandom > /etc/munge/munge.key && systemctl restart munge'")
    # A job cannot start on either: no slurmd on one, credentials that the other cannot read.
    for node in ("e2e1-compute-1", "e2e1-compute-2"):
        p = node_run(world, fe, "timeout 120 srun --immediate=30 -w %s hostname" % node, check=False)
        assert p.returncode != 0 and node not in p.stdout, (node, p.stdout, p.stderr)
    # At -vvv: this run passes the N2N key to the edges and writes the munge key again; neither may show.
    p = playbook("deploy_mvc", world["inventory"], "-e", "@" + first.request, "-vvv")
    assert p.returncode == 0, p.stdout[-4000:]
    assert {h for h, (c, _f) in recap(p.stdout).items() if c} == {"e2e1-compute-1", "e2e1-compute-2"}, p.stdout[-4000:]
    assert "Run the cluster's N2N edge" in p.stdout and "task path: " in p.stdout
    assert "Write the cluster's munge key (0400 munge:munge)" in p.stdout
    n2n_key, munge_key = db_key(world, "e2e1"), db_key(world, "e2e1", "munge_key")
    assert len(n2n_key) >= 16 and len(munge_key) >= 44
    for shown in (n2n_key, munge_key, munge_key[:32], munge_key[-32:]):
        assert shown not in p.stdout, "a key of the cluster shows in the -vvv output of deploy_mvc"
    states = wait_for_states(world, first, {n: "idle" for n in ("e2e1-compute-0", "e2e1-compute-1", "e2e1-compute-2")})
    assert srun_hosts(world, first, "-N3") == ["e2e1-compute-0", "e2e1-compute-1", "e2e1-compute-2"], states


def test_a_paused_site_goes_down_in_slurm_and_the_other_runs_jobs(world, first):
    sites = compute_sites(first)
    far = sorted(n for n, s in sites.items() if s == "sdsc")
    near = sorted(n for n, s in sites.items() if s == "osaka")
    helper = world["lab"]["helper"]
    dom0 = [vm["inventory_name"] for site, vm in helper.vm_containers(world["lab"]) if site["name"] == "sdsc"][0]
    helper.ssh(dom0, "for d in %s; do xl pause $d; done" % " ".join(far))
    try:
        wait_for_states(world, first, dict((n, r"down.*") for n in far), timeout=300)
        assert srun_hosts(world, first, "-p osaka -N%d" % len(near)) == near
    finally:
        helper.ssh(dom0, "for d in %s; do xl unpause $d; done" % " ".join(far))
        # Their return is checked after the second cluster's tests (test_the_paused_site_comes_back...).
        first.paused, first.unpaused_at = far, time.monotonic()


def service_packages():
    with open(os.path.join(TOP, "roles", "mvc", "defaults", "main.yml")) as f:
        return [p for ps in yaml.safe_load(f)["mvc_service_packages"].values() for p in ps]


WG_KEY = "/etc/wireguard/mvc/wg-mvc.key"
# The wireguard cluster's MTU: the lab's 1500-byte underlay less 80 (WireGuard over the IPv6-sized default) and 50
# (VXLAN).
WG_MTU = 1370


def hub_run(world, command):
    """``command`` in the lab's supernode host, a container (the hub's files and units are there)."""
    with open(world["lab"]["supernode_cidfile"]) as f:
        cid = f.read().strip()
    return subprocess.run(["podman", "exec", cid, "sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, timeout=120).stdout


def private_keys(world):
    """Host -> the WireGuard private key that it holds (empty where it has none yet), the hub's included."""
    keys = dict((dom0, out.strip()) for dom0, out in dom0_run(world, "cat %s 2>/dev/null" % WG_KEY).items())
    keys["supernode"] = hub_run(world, "cat %s 2>/dev/null" % WG_KEY).strip()
    return keys


@pytest.fixture(scope="module")
def second(world, first):
    # The second cluster uses the other overlay backend, WireGuard + VXLAN, on the same Dom0s as the first, and
    # shows the faults of the overlay and the Dom0s, a non-root Dom0 user with become, and scaling; the services'
    # faults are the first cluster's. One cluster for all of these: a third cluster's deploys, scaling and destroy
    # cost about 10 minutes of CI (clean-clone run of 2026-12-03).
    # It asks for the packages that the first cluster's services put in its golden image, so the two share that
    # image (golden images are named after their sorted packages): a second golden image and its base image on each
    # Dom0 cost about 6 minutes in the clean-clone run of 2026-12-02.
    # Slurm only: its scaling is shown here. No shared /home: the first cluster shows it, and each deploy here would
    # pay for it.
    slurm_only = {"scheduler": "slurm", "mpi": "none", "shared_home": False}
    c = Cluster(world["work"], "e2e2", 1, world["pub"], services=slurm_only, packages=["bc"] + service_packages(),
                backend="wireguard")
    # The faults of a site come first: each deploy fails naming the site, and the database claims nothing.
    c.fault_frontend = playbook("deploy_mvc", broken_inventory(world, "frontend-down", frontend_down=True),
                                "-e", "@" + c.request)
    c.fault_frontend_statuses = node_statuses(world, "e2e2")
    c.fault_frontend_left = on_dom0s(world, "e2e2")
    # sdsc's Dom0 reaches the hub over a path smaller than the underlay MTU (1500): no Dom0 may change.
    c.fault_mtu = deploy_over_a_small_path(world, c.request, "vm-container-0-0.sdsc", 1400)
    c.fault_mtu_statuses = node_statuses(world, "e2e2")
    c.fault_mtu_left = dom0_run(world, "xl list | grep e2e2; ip -o link | grep -E 'e2e2|wg-mvc'; ls /etc/wireguard 2>/dev/null")
    # At -vvv: the Dom0 that answers makes its key pair, which must show nowhere in the output.
    c.fault_vm = playbook("deploy_mvc", broken_inventory(world, "vm-container-down", vm_container_down=True),
                          "-e", "@" + c.request, "-vvv")
    c.fault_vm_keys = private_keys(world)
    c.fault_vm_statuses = node_statuses(world, "e2e2")
    # The site is back, but this deploy is killed while sdsc's node is being installed.
    c.killed = killed_mid_install(world, c.request)
    c.killed_statuses = node_statuses(world, "e2e2")
    # The same request completes the cluster, as the non-root user with become on the Dom0s. At -vvv and --diff:
    # the nodes get the cluster's munge key and sdsc's Dom0 makes its key pair, which must show nowhere.
    c.sudo_before = sudo_log(world)
    p = playbook("deploy_mvc", world["inventory_sudo"], "-e", "@" + c.request, "-vvv", "--diff")
    assert p.returncode == 0, p.stdout[-6000:]
    c.completed = p.stdout
    c.munge_key = db_key(world, "e2e2", "munge_key")
    c.private_keys = private_keys(world)
    c.sudo_after = sudo_log(world)
    c.logins = logins(p.stdout)
    c.statuses = node_statuses(world, "e2e2")
    return c


def test_an_unreachable_frontend_fails_the_deploy_by_site_before_any_dom0_work(second):
    out = second.fault_frontend.stdout
    assert second.fault_frontend.returncode != 0
    assert re.search(r"e2e2 needs [^\n]*vm-container-0-0\.sdsc[^\n]* at site [^\n]*sdsc", out), out[-4000:]
    assert re.search(r"Rocks\s+frontend\s+of\s+site\s+sdsc:", out), out[:4000]  # the inventory's warning
    assert sorted(second.fault_frontend_statuses) == ["e2e2-compute-0", "e2e2-frontend"]
    assert set(second.fault_frontend_statuses.values()) == {"planned"}
    assert all(lines == [] for lines in second.fault_frontend_left.values()), second.fault_frontend_left


def test_a_path_too_small_for_the_wireguard_underlay_stops_the_deploy_before_any_dom0_changes(second):
    out = second.fault_mtu.stdout
    assert second.fault_mtu.returncode != 0
    assert re.search(r"wireguard_edge_underlay_mtu: 1500 does not fit the path from vm-container-0-0\.sdsc to the hub "
                     r"\S+:51820 \(\S+, MTU 1400\); give 1400 or less\.", out), out[-4000:]
    assert "Nothing was changed on any Dom0" in out and "mvc_underlay_mtu=(the smallest path MTU; now 1500)" in out, out[-4000:]
    assert "Make this Dom0's key pair once" not in out
    assert set(second.fault_mtu_statuses.values()) == {"planned"}, second.fault_mtu_statuses
    assert all(o.strip() == "" for o in second.fault_mtu_left.values()), second.fault_mtu_left


def test_an_unreachable_vm_container_fails_the_deploy_by_name_and_claims_nothing(second):
    out = second.fault_vm.stdout
    assert second.fault_vm.returncode != 0
    assert "UNREACHABLE" in out
    # That run was at -vvv: the Dom0 that answered made its key pair and dialled the hub.
    osaka = second.fault_vm_keys["vm-container-0-0.osaka"]
    assert len(osaka) == 44 and not second.fault_vm_keys["vm-container-0-0.sdsc"], second.fault_vm_keys
    assert "Make this Dom0's key pair once" in out and "Dial the WireGuard hub" in out and "task path: " in out
    assert osaka not in out, "the private key of osaka's Dom0 shows in the -vvv output of deploy_mvc"
    assert "e2e2 is not deployed on vm-container-0-0.sdsc" in out, out[-4000:]
    assert "deployed" not in second.fault_vm_statuses.values(), second.fault_vm_statuses


def test_a_deploy_killed_mid_install_is_completed_by_a_rerun(world, second):
    assert "Make the node's root filesystem on its disk" in second.killed, second.killed[-4000:]
    assert set(second.killed_statuses.values()) == {"planned"}, second.killed_statuses
    # The re-run completed (the fixture asserts it, and the next tests log in and ping); the database says so.
    assert second.statuses == {"e2e2-compute-0": "deployed", "e2e2-frontend": "deployed"}
    # Nor is anything of the killed install left: a kill with the node's disk mounted left the mount and the
    # temporary disk (2026-12-03), until the next install of the node removed them.
    for dom0, out in dom0_run(world, "grep ' /var/lib/xen/mvc/' /proc/mounts; "
                                     "find /var/lib/xen/mvc/e2e2 -mindepth 1 -maxdepth 1 -name '.*'").items():
        assert out.strip() == "", (dom0, out)


def test_slurm_is_set_up_only_once_the_whole_cluster_runs_and_its_munge_key_never_shows(second):
    # The deploy that lost sdsc's Dom0 configured no node's services (the controller would have waited for a
    # compute node that was not there); the one that completed the cluster did, at -vvv.
    assert "Slurm, its controller on the frontend" not in second.fault_vm.stdout
    assert "Write the cluster's munge key (0400 munge:munge)" in second.completed, second.completed[-4000:]
    key = second.munge_key
    assert len(key) >= 44, "no munge key in the database"
    for shown in (key, key[:32], key[-32:]):
        assert shown not in second.completed, "the munge key shows in the -vvv output of deploy_mvc"


def test_no_wireguard_private_key_shows_in_the_vvv_diff_output(second):
    assert len(second.private_keys) == 3 and all(len(k) == 44 for k in second.private_keys.values()), second.private_keys
    # Kept: osaka's Dom0 and the hub made theirs in the run that lost sdsc.
    assert second.private_keys["vm-container-0-0.osaka"] == second.fault_vm_keys["vm-container-0-0.osaka"]
    assert "Make this Dom0's key pair once" in second.completed and "task path: " in second.completed
    for host, key in second.private_keys.items():
        assert key not in second.completed, "the private key of %s shows in the -vvv --diff output of deploy_mvc" % host


def sudo_log(world):
    """Dom0 -> the lines of its journal in which the non-root user ran a command as root with sudo."""
    return dict((dom0, [line for line in out.splitlines() if re.search(r"\b%s : .*USER=root ; COMMAND=" % DOM0_SUDO_USER, line)])
                for dom0, out in dom0_run(world, "journalctl -q --no-pager -o cat SYSLOG_IDENTIFIER=sudo").items())


def test_the_second_cluster_is_deployed_by_a_non_root_dom0_user_with_become(world, second):
    # The inventory says so ...
    p = subprocess.run(["ansible-inventory", "-i", world["inventory_sudo"], "--list"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, check=True, timeout=300, env=ansible_env())
    hostvars = json.loads(p.stdout)["_meta"]["hostvars"]
    dom0s = [h for h in hostvars if h.startswith("vm-container-")]
    assert dom0s and all(hostvars[h]["ansible_user"] == DOM0_SUDO_USER and hostvars[h]["ansible_become"] is True
                         for h in dom0s), dict((h, hostvars[h]) for h in dom0s)
    # ... and each Dom0 saw it: that user logged in and ran as root through sudo during the deploy, which it had
    # not before (the first cluster was deployed as root).
    for dom0, lines in second.sudo_after.items():
        assert len(lines) > len(second.sudo_before[dom0]), (dom0, second.sudo_before[dom0], lines)
    # What the deploys wrote on the Dom0s belongs to root, not to the user it logged in as, the key pairs included.
    for dom0, out in dom0_run(world, "stat -c '%U:%G %n' /etc/xen/mvc/e2e2/* /var/lib/xen/mvc/e2e2/* "
                                     "/etc/wireguard/mvc/*").items():
        assert out.strip() and all(line.startswith("root:root ") for line in out.splitlines()), (dom0, out)
        assert "%s\n" % WG_KEY in out + "\n", (dom0, out)
    # The login of the cluster's nodes hops through their Dom0 as that user as well.
    config = open(second.logins["e2e2-frontend"][2][2]).read()
    assert DOM0_SUDO_USER in config, config


def test_a_wireguard_cluster_links_its_nodes_across_both_nats_and_logs_in(world, second):
    assert sorted(second.logins) == ["e2e2-compute-0", "e2e2-frontend"]
    assert {site for site, _ip, _argv in second.logins.values()} == {"osaka", "sdsc"}
    fe, cn = second.logins["e2e2-frontend"], second.logins["e2e2-compute-0"]
    # Each node pings the other across both NATs, with full-size frames that may not be fragmented: the guests'
    # NICs have the cluster's MTU, which the VXLAN bridge carries.
    for a, b in ((fe, cn), (cn, fe)):
        out = node_run(world, a, "cat /sys/class/net/$(ip -o -4 addr show to %s | cut -d' ' -f2)/mtu; "
                                 "ping -c 2 -W 5 -M do -s %d %s >/dev/null && echo ok" % (a[1], WG_MTU - 28, b[1])).stdout
        assert out.split() == [str(WG_MTU), "ok"], (a, out)
        out = node_run(world, a, "ping -c 1 -W 5 -M do -s %d %s >/dev/null && echo ok || echo too-big" % (WG_MTU - 27, b[1])).stdout
        assert out.strip() == "too-big", out
    # Logged in as the request's user, with sudo; Slurm runs a job on the compute node across the overlay.
    assert node_run(world, fe, "id -un; sudo -n true && echo sudo").stdout.split() == ["alice", "sudo"]
    assert srun_hosts(world, second, "-N1") == ["e2e2-compute-0"]


def test_no_node_of_a_cluster_without_shared_home_runs_an_nfs_server(world, second):
    # The golden image, shared with e2e1, has the NFS server's package but leaves it disabled: the shared_home role
    # starts it on e2e1's frontend only. This Slurm-only cluster runs munge and chrony, and no NFS server.
    for name, login in sorted(second.logins.items()):
        out = node_run(world, login, "systemctl is-active munge chrony nfs-server; systemctl is-enabled nfs-server",
                       check=False).stdout
        assert out.split() == ["active", "active", "inactive", "disabled"], (name, out)


def test_a_wireguard_cluster_runs_vxlan_over_a_kernel_tunnel_that_each_dom0_dials_to_the_hub(world, second):
    # Each Dom0: kernel WireGuard (a wireguard link, not a TUN device), a recent handshake with the hub, and the
    # cluster's VXLAN device in its bridge with the other Dom0 as its flood entry. The hub: wireguard-go, one peer
    # per Dom0.
    for dom0, out in dom0_run(world, "ip -d -o link show dev wg-mvc; wg show wg-mvc latest-handshakes; "
                                     "ip -d -o link show dev vx-e2e2; bridge fdb show dev vx-e2e2 | grep 00:00:00:00:00:00").items():
        assert "wireguard" in out.splitlines()[0], (dom0, out)
        handshake = int(out.splitlines()[1].split()[1])
        assert time.time() - handshake < 300, (dom0, out)
        assert "vxlan id " in out and "master mvc-e2e2" in out, (dom0, out)
        assert re.search(r"dst 10\.250\.\d+\.\d+", out), (dom0, out)
    hub = hub_run(world, "wg show wg-mvc peers | wc -l; systemctl is-active mvc-wireguard")
    assert hub.split() == ["2", "active"], hub


def test_a_wireguard_cluster_is_isolated_from_the_n2n_cluster_on_the_same_dom0s(world, first, second):
    # Even with a route that puts the other cluster's subnet on its own overlay NIC, nothing gets through, either
    # way. (The NIC is found by its address: systemd names Xen's netfront NIC enX0, older releases eth0.)
    a, b = first.logins["e2e1-frontend"], second.logins["e2e2-frontend"]
    for src, dst in ((a, b), (b, a)):
        subnet = dst[1].rsplit(".", 1)[0] + ".0/24"
        out = node_run(world, src, "dev=$(ip -o -4 addr show to %s | cut -d' ' -f2); sudo ip route replace %s dev $dev; "
                                   "ping -c 3 -W 2 %s >/dev/null && echo REACHED || echo isolated; sudo ip route del %s dev $dev"
                                   % (src[1], subnet, dst[1], subnet)).stdout
        assert "isolated" in out and "REACHED" not in out, (src, dst, out)


# TCP rate, measured by the receiver from its first byte to the end of the stream (the sender's count would include
# its socket buffer). Python, not iperf3: the Dom0s and guests have python3 and no iperf3.
RATE_PORT = 5201
RATE_SECONDS = 5
RATE_RECEIVER = (
    "import socket,time\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('',%d)); s.listen(1); s.settimeout(90)\n"
    "c,_=s.accept(); c.settimeout(60); n=0; t0=t1=None\n"
    "while True:\n"
    "    b=c.recv(1<<16)\n"
    "    if not b: break\n"
    "    t0=t0 or time.monotonic(); n+=len(b); t1=time.monotonic()\n"
    "print(n, t1-t0)\n" % RATE_PORT)
RATE_SENDER = (
    "import socket,sys,time\n"
    "end=time.monotonic()+60\n"
    "while True:\n"
    "    try: s=socket.create_connection((sys.argv[1],%d),timeout=10); break\n"
    "    except OSError:\n"
    "        if time.monotonic()>end: raise\n"
    "        time.sleep(0.5)\n"
    "b=bytes(1<<16); stop=time.monotonic()+%d\n"
    "while time.monotonic()<stop: s.sendall(b)\n"
    "s.close()\n" % (RATE_PORT, RATE_SECONDS))


def tcp_rate(receiver_argv, sender_argv, target):
    """Mbit/s from sender to the receiver at ``target``; both argv run a command (ssh) that is given the script."""
    rx = subprocess.Popen(receiver_argv + ["python3 -c %s" % shlex.quote(RATE_RECEIVER)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        tx = subprocess.run(sender_argv + ["python3 -c %s %s" % (shlex.quote(RATE_SENDER), target)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=180)
        out, err = rx.communicate(timeout=120)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    assert tx.returncode == 0 and rx.returncode == 0, (tx.stdout, out, err)
    size, seconds = out.split()
    assert int(size) > 0 and float(seconds) > 0, out
    return int(size) * 8 / float(seconds) / 1e6


def hub_bytes(world):
    """Bytes that the hub's WireGuard interface received, over all its peers."""
    return sum(int(line.split()[1]) for line in hub_run(world, "wg show wg-mvc transfer").splitlines() if line.strip())


def test_guest_to_guest_rates_over_both_overlays_and_the_direct_path_between_the_dom0s_are_measured(world, first, second):
    # For the overlay benchmark (tests/benchmarks/test_bench_overlay.py prints the ratios): from osaka to sdsc, a
    # guest of each cluster to a guest of the same cluster (through both sites' bridges and the supernode or the
    # hub), and osaka's Dom0 to sdsc's Dom0 on the direct path, which sdsc's NAT forwards for this test only. Two more
    # take the overlay's cost apart from the guests': the Dom0s' WireGuard tunnel alone (through the hub, no VXLAN,
    # no guest), and two guests on one Dom0 (its bridge alone, no overlay).
    lab = world["lab"]
    src_site, dst_site = lab["sites"][0], lab["sites"][1]
    dst_vm, src_vm = dst_site["vms"][0], src_site["vms"][0]
    dst_dom0, src_dom0 = lab["helper"].ssh_argv(dst_vm["inventory_name"]), lab["helper"].ssh_argv(src_vm["inventory_name"])

    def by_site(cluster):
        found = {}
        for login in sorted(cluster.logins.values(), key=lambda x: x[1]):
            found.setdefault(login[0], []).append(login)
        return found

    def rate(a, b):  # node a to node b
        return tcp_rate(node_ssh(world, b), node_ssh(world, a), b[1])

    n2n, wg, src, dst = by_site(first), by_site(second), src_site["name"], dst_site["name"]
    rates = {"n2n": {"mbit_s": rate(n2n[src][0], n2n[dst][0])}}
    # 1 + 3 nodes over 2 sites: one site, so one Dom0, has two
    site, nodes = next((site, nodes) for site, nodes in sorted(n2n.items()) if len(nodes) > 1)
    rates["one_dom0"] = {"mbit_s": rate(nodes[0], nodes[1]), "site": site}
    before = hub_bytes(world)
    rates["wireguard"] = {"mbit_s": rate(wg[src][0], wg[dst][0])}
    rates["wireguard"]["hub_bytes"] = hub_bytes(world) - before
    wg_address = lab["helper"].ssh(dst_vm["inventory_name"], "ip -4 -o addr show dev wg-mvc").stdout.split()[3]
    rates["wireguard_tunnel"] = {"mbit_s": tcp_rate(dst_dom0, src_dom0, wg_address.split("/")[0])}
    ns = ["ip", "netns", "exec", dst_site["ns"], "iptables"]
    rules = [(["-t", "nat"], ["PREROUTING", "-i", "pub", "-p", "tcp", "--dport", str(RATE_PORT), "-j", "DNAT",
                              "--to-destination", "%s:%d" % (dst_vm["ip"], RATE_PORT)]),
             ([], ["FORWARD", "-i", "pub", "-o", "lan", "-p", "tcp", "-d", dst_vm["ip"], "--dport", str(RATE_PORT), "-j", "ACCEPT"])]
    inserted = []
    try:
        for table, (chain, *spec) in rules:
            subprocess.run(ns + table + ["-I", chain] + spec, check=True)
            inserted.append((table, chain, spec))
        rates["direct"] = {"mbit_s": tcp_rate(dst_dom0, src_dom0, dst_site["public_ip"])}
    finally:
        for table, chain, spec in inserted:
            subprocess.run(ns + table + ["-D", chain] + spec, check=True)
    os.makedirs(os.path.dirname(OVERLAY_RATES), exist_ok=True)
    with open(OVERLAY_RATES, "w") as f:
        json.dump(dict(rates, seconds=RATE_SECONDS, source=src_site["name"], destination=dst_site["name"]), f)
    print(rates)


def direct_paths(world):
    """Dom0 -> its watchdog's paths to the other Dom0s (transport address -> path, endpoint, since)."""
    return {dom0: json.loads(out or "{}") for dom0, out in dom0_run(world, "cat /run/cmc-mvc/wg-mvc.direct.json").items()}


def test_wireguard_dom0s_go_direct_where_both_site_routers_drop_udp_to_themselves(world, second):
    # The lab's site routers are stock Rocks frontends: their firewall rejects UDP on the public side only below
    # port 1024. A Dom0's first direct datagram therefore lands on the other site's router, whose connection
    # tracking then holds the port that router's Dom0 needs for its own: the pair never shakes hands and stays on
    # the hub (asserted first: the throughput test before this one measured the hub's path). A site router that drops
    # UDP to itself lets the pair through. This test's rules, in the lab's namespaces: first, before connection
    # tracking, the pair's datagrams both ways, until the entries of their failed attempts have expired (those that
    # hold the wrong port), then, for good, UDP to the router itself.
    lab = world["lab"]
    sites = lab["sites"][:2]
    paths = direct_paths(world)
    assert sorted(len(p) for p in paths.values()) == [1, 1], paths
    assert all(p["path"] == "hub" for each in paths.values() for p in each.values()), paths
    assert "active active" == " ".join(o.strip() for o in dom0_run(world, "systemctl is-active mvc-wg-direct").values())
    stale = [(site, ["-t", "raw"], ["PREROUTING", "-i", side, "-p", "udp", way, other["public_ip"], "-j", "DROP"])
             for site, other in (sites, sites[::-1]) for side, way in (("pub", "-s"), ("lan", "-d"))]
    firewall = [(site, [], ["INPUT", "-i", "pub", "-p", "udp", "-j", "DROP"]) for site in sites]

    def iptables(site, table, verb, chain, spec):
        subprocess.run(["ip", "netns", "exec", site["ns"], "iptables"] + table + [verb, chain] + spec, check=True)

    def unreplied(site, other):
        out = subprocess.run(["ip", "netns", "exec", site["ns"], "cat", "/proc/net/nf_conntrack"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout
        return [line for line in out.splitlines() if " udp " in line and "[UNREPLIED]" in line
                and ("src=%s " % other["public_ip"] in line or "dst=%s " % other["public_ip"] in line)]

    inserted = []
    t0 = time.monotonic()
    try:
        for site, table, (chain, *spec) in stale + firewall:
            iptables(site, table, "-I", chain, spec)
            inserted.append((site, table, chain, spec))
        # UDP's unreplied entries last 30 s after their last datagram.
        while unreplied(sites[0], sites[1]) or unreplied(sites[1], sites[0]):
            assert time.monotonic() - t0 < 120, (unreplied(sites[0], sites[1]), unreplied(sites[1], sites[0]))
            time.sleep(1)
        expired = time.monotonic() - t0
        for site, table, (chain, *spec) in stale:
            iptables(site, table, "-D", chain, spec)
            inserted.remove((site, table, chain, spec))
        # Keepalives every 5 s, a poll every second.
        while not all(p["path"] == "direct" for each in direct_paths(world).values() for p in each.values()):
            assert time.monotonic() - t0 - expired < 60, direct_paths(world)
            time.sleep(1)
        went_direct = time.monotonic() - t0 - expired
        wg = {}
        for login in sorted(second.logins.values(), key=lambda x: x[1]):
            wg.setdefault(login[0], []).append(login)
        src, dst = wg[sites[0]["name"]][0], wg[sites[1]["name"]][0]
        before = hub_bytes(world)
        rate = tcp_rate(node_ssh(world, dst), node_ssh(world, src), dst[1])
        hub = hub_bytes(world) - before
    finally:
        for site, table, chain, spec in inserted:
            iptables(site, table, "-D", chain, spec)
    sent = rate * 1e6 / 8 * RATE_SECONDS
    # The hub got keepalives and the Dom0s' own traffic, not the stream.
    assert hub < 0.05 * sent, (hub, sent)
    # Beside the rates of the throughput test, when it ran (a run with -k may leave it out).
    rates = {}
    if os.path.exists(OVERLAY_RATES):
        with open(OVERLAY_RATES) as f:
            rates = json.load(f)
    rates["wireguard_direct"] = {"mbit_s": rate, "hub_bytes": hub}
    os.makedirs(os.path.dirname(OVERLAY_RATES), exist_ok=True)
    with open(OVERLAY_RATES, "w") as f:
        json.dump(rates, f)
    print("stale entries gone after %.0f s, direct %.0f s later; guest to guest %.1f Mbit/s, %d bytes into the hub"
          % (expired, went_direct, rate, hub))
    # Left direct: the routers' entries for the pair are established now, and stay while the keepalives flow.


def test_a_wireguard_cluster_s_second_identical_run_changes_nothing(world, second):
    p = playbook("deploy_mvc", world["inventory_sudo"], "-e", "@" + second.request)
    assert p.returncode == 0, p.stdout[-4000:]
    changed = dict((host, c) for host, (c, _f) in recap(p.stdout).items() if c)
    assert changed == {}, p.stdout[-4000:]
    print("the wireguard cluster's unchanged re-run as the non-root user took %.0f s" % p.elapsed)


def test_scaling_adds_and_removes_compute_nodes_leaving_the_others_alone(world, second):
    def domain_ids():
        ids = {}
        for out in dom0_run(world, "xl list").values():
            for line in out.splitlines()[1:]:
                f = line.split()
                if f and f[0].startswith("e2e2-"):
                    ids[f[0]] = f[-5]
        return ids

    before = domain_ids()
    second.write(2, world["pub"])
    p = playbook("deploy_mvc", world["inventory_sudo"], "-e", "@" + second.request)
    assert p.returncode == 0, p.stdout[-4000:]
    # A deploy that creates exactly one domain: that domain's create-to-SSH time, with the deploy's overhead.
    world["timings"]["one_domain_s"] = p.elapsed
    grown = domain_ids()
    assert sorted(grown) == ["e2e2-compute-0", "e2e2-compute-1", "e2e2-frontend"]
    assert all(grown[n] == before[n] for n in before), (before, grown)
    new = logins(p.stdout)["e2e2-compute-1"]
    assert "ok" in node_run(world, new, "ping -c 2 -W 5 %s >/dev/null && echo ok" % second.logins["e2e2-frontend"][1]).stdout
    # Slurm has the new node idle in its site's partition, and every node's /etc/hosts names it.
    sites = {"e2e2-compute-0": second.logins["e2e2-compute-0"][0], "e2e2-compute-1": new[0]}
    wait_for_states(world, second, dict.fromkeys(sites, "idle"))
    assert slurm_rows(world, second) == slurm_rows_wanted(sites)
    fe = second.logins["e2e2-frontend"]
    out = node_run(world, fe, "srun -w e2e2-compute-1 hostname; getent hosts e2e2-compute-1").stdout
    assert out.split() == ["e2e2-compute-1", new[1], "e2e2-compute-1"], out
    assert node_run(world, new, "getent hosts e2e2-frontend").stdout.split() == [fe[1], "e2e2-frontend"]
    second.write(1, world["pub"])
    p = playbook("deploy_mvc", world["inventory_sudo"], "-e", "@" + second.request)
    assert p.returncode == 0, p.stdout[-4000:]
    # The removed node is gone from Slurm and from the other nodes' /etc/hosts; the one left still runs jobs.
    wait_for_states(world, second, {"e2e2-compute-0": "idle", "e2e2-compute-1": "absent"})
    assert slurm_rows(world, second) == slurm_rows_wanted({"e2e2-compute-0": sites["e2e2-compute-0"]})
    out = node_run(world, fe, "srun -N1 hostname; getent hosts e2e2-compute-1 || echo unknown").stdout
    assert out.split() == ["e2e2-compute-0", "unknown"], out
    shrunk = domain_ids()
    assert shrunk == before, (before, shrunk)
    assert all("e2e2-compute-1" not in out for out in dom0_run(world, "ls /etc/xen/mvc/e2e2 /var/lib/xen/mvc/e2e2").values())
    # Both Dom0s still carry the cluster: both keep its VXLAN device.
    assert all("vx-e2e2" in out for out in dom0_run(world, "ip -o link show dev vx-e2e2").values())


def test_the_paused_site_comes_back_in_slurm_and_runs_jobs_again(world, first):
    # Here, not right after the unpause: slurmctld pings down nodes only every few minutes (about 4 after the
    # unpause, measured on the lab), and the second cluster's deploys and tests run meanwhile.
    assert getattr(first, "unpaused_at", None), "the paused-site test did not pause and unpause a site"
    waited = time.monotonic() - first.unpaused_at
    wait_for_states(world, first, dict((n, "idle") for n in compute_sites(first)), timeout=max(60, 480 - waited))
    assert srun_hosts(world, first, "-p sdsc -N%d" % len(first.paused)) == first.paused
    print("the paused site's nodes were idle when checked, %.0f s after the unpause" % (time.monotonic() - first.unpaused_at))


def test_status_reports_live_state_and_draws_the_topology(world, first, second):
    picture = os.path.join(world["work"], "topology.svg")
    p = playbook("status_mvc", world["inventory_sudo"], "-e", "mvc_picture=" + picture)
    assert p.returncode == 0, p.stdout[-4000:]
    # Each cluster's backend and the MTU that the MVC database keeps for it (the one its guests' NICs have).
    overlays = dict((c, (o, int(m))) for c, o, m in re.findall(
        r'"msg": "cluster (e2e\d) \(\w+\): (\w+) overlay [\d./]+, MTU (\d+), \d+ nodes at ', p.stdout))
    assert overlays == {"e2e1": ("n2n", N2N_MTU), "e2e2": ("wireguard", WG_MTU)}, p.stdout[-4000:]
    rows = re.findall(r'"msg": "(e2e\d) (\S+) \((\w+)\) site (\w+), Dom0 (\S+), overlay ([\d.]+): domain (\w+), '
                      r'edge (\w+), (reachable from [^"]+|unreachable)"', p.stdout)
    # The wireguard cluster's edges are its VXLAN units.
    assert sorted(r[1] for r in rows) == sorted(list(first.logins) + list(second.logins))
    assert all(r[6] == "running" and r[7] == "up" and r[8].startswith("reachable") for r in rows), rows
    # Slurm's state of each compute node, read on its cluster's frontend, whichever the backend; the frontends run
    # no slurmd.
    slurm = dict((r[1], re.search(r", slurm (.+)$", r[8])) for r in rows)
    computes = [n for n in list(first.logins) + list(second.logins) if "-compute-" in n]
    assert all(slurm[n] and slurm[n].group(1) == "idle" for n in computes), rows
    assert not any(slurm[n] for n in ["e2e1-frontend", "e2e2-frontend"]), rows
    # n2n v1 relays the guests' frames between sites through the supernode (the pings above crossed the NATs).
    relayed = re.findall(r'"msg": "supernode (\S+): received (\d+) bytes, sent (\d+) bytes since ([^"]+)"', p.stdout)
    assert len(relayed) == 1 and int(relayed[0][1]) > 0 and int(relayed[0][2]) > 0, p.stdout[-4000:]
    # The WireGuard hub relays the wireguard cluster's frames between its two Dom0s.
    hub = re.findall(r'"msg": "hub (\S+): received (\d+) bytes, sent (\d+) bytes, (\d+) Dom0s"', p.stdout)
    assert len(hub) == 1 and int(hub[0][1]) > 0 and int(hub[0][2]) > 0 and hub[0][3] == "2", p.stdout[-4000:]
    # Each Dom0 of the wireguard cluster names its path to the other: direct since the test that opened the routers,
    # minutes ago, and never back through the hub since (a working pair must not flap).
    paths = re.findall(r'"msg": "Dom0 (\S+): WireGuard to (10\.250\.\d+\.\d+) (direct at \S+|through the hub) since '
                       r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"', p.stdout)
    dom0s = sorted(vm["inventory_name"] for _s, vm in world["lab"]["helper"].vm_containers(world["lab"]))
    assert sorted(x[0] for x in paths) == dom0s and all(x[2].startswith("direct at") for x in paths), p.stdout[-4000:]
    for dom0, journal in dom0_run(world, "journalctl -u mvc-wg-direct --no-pager -o cat").items():
        assert "direct at" in journal and "through the hub" not in journal, (dom0, journal)
    with open(picture) as f:
        raw = f.read()
    svg = html.unescape(raw)  # Graphviz writes '-' as &#45;
    assert raw.count("<svg") == 1 and "site osaka" in svg and "site sdsc" in svg
    for name in list(first.logins) + list(second.logins):
        assert ">%s</text>" % name in svg, name
    assert svg.count(">slurm idle</text>") == len(computes) == 4, svg


def test_destroying_the_wireguard_cluster_leaves_nothing_of_it_and_the_n2n_cluster_runs(world, first, second):
    p = playbook("destroy_mvc", world["inventory_sudo"], "-e", "mvc_cluster=e2e2")
    assert p.returncode == 0, p.stdout[-4000:]
    # It was the only wireguard cluster: the Dom0s lose their WireGuard interface, key and units, the hub goes. The
    # n2n cluster's domains, bridge and edge stay.
    for dom0, out in dom0_run(world, "xl list | grep e2e2; ip -o link | grep -E 'e2e2|wg-mvc'; "
                                     "find /etc/xen/mvc/e2e2 /var/lib/xen/mvc/e2e2 /etc/wireguard/mvc 2>/dev/null; "
                                     "systemctl list-unit-files --no-legend 'mvc-wg*'; "
                                     "iptables -S INPUT | grep -i vxlan").items():
        assert out.strip() == "", (dom0, out)
    for out in dom0_run(world, "xl list; ip -o link; ls /etc/xen/mvc /var/lib/xen/mvc /etc/n2n/mvc").values():
        assert "e2e2" not in out and "e2e1" in out, out
    hub = hub_run(world, "ip -o link | grep wg-mvc; ls /etc/wireguard/mvc 2>/dev/null; "
                         "systemctl list-unit-files --no-legend 'mvc-wireguard*'")
    assert hub.strip() == "", hub
    a = first.logins["e2e1-frontend"]
    others = " ".join(ip for n, (_s, ip, _a) in first.logins.items() if n != "e2e1-frontend")
    out = node_run(world, a, "for ip in %s; do ping -c 2 -W 5 $ip >/dev/null || echo FAILED $ip; done; echo done" % others).stdout
    assert "FAILED" not in out and "done" in out
    again = playbook("destroy_mvc", world["inventory_sudo"], "-e", "mvc_cluster=e2e2")
    assert again.returncode == 0 and all(c == 0 for c, _f in recap(again.stdout).values()), again.stdout[-3000:]


def test_destroy_leaves_nothing_behind_and_is_harmless_again(world, first):
    p = playbook("destroy_mvc", world["inventory"], "-e", "mvc_cluster=e2e1")
    assert p.returncode == 0, p.stdout[-4000:]
    # find, not ls: ls names each directory it lists, empty or not.
    for dom0, out in dom0_run(world, "xl list | tail -n +3; ip -o link | grep -E 'mvc-|n2n-'; find /etc/xen/mvc "
                                     "/var/lib/xen/mvc /etc/n2n/mvc /etc/xen/auto -mindepth 1 2>/dev/null; "
                                     "systemctl list-units --all --no-legend 'mvc-n2n-edge@*'").items():
        assert out.strip() == "", (dom0, out)
    assert not os.path.exists(first.logins["e2e1-frontend"][2][2]), "destroy left the cluster's SSH config"
    again = playbook("destroy_mvc", world["inventory"], "-e", "mvc_cluster=e2e1")
    assert again.returncode == 0 and all(c == 0 for c, _f in recap(again.stdout).values()), again.stdout[-3000:]
    os.makedirs(os.path.dirname(TIMINGS), exist_ok=True)
    with open(TIMINGS, "w") as f:
        json.dump(dict(world["timings"], nodes=4), f)
