# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a stand-in data file for a site of N hosts (test only). Python 3 stdlib only.

    generate.py --site osaka --hosts 2000 [--containers 0.5] [--guests 2] [--version 7] > osaka.json

Host 0 is the frontend; the rest are ``vm-container-R-N`` (fraction --containers) and ``compute-R-N``,
32 per rack, each with a private eth0, and --guests ``hosted-vm`` guests per container... counted in
the N hosts (Rocks lists VMs as hosts too).
"""
import argparse
import json
import sys


def mac(site_no, n, kind=0):
    return "%02x:%02x:%02x:%02x:%02x:%02x" % (0x02 if kind == 0 else 0x00, site_no & 0xff, (n >> 16) & 0xff,
                                              (n >> 8) & 0xff, n & 0xff, kind)


def generate(site, hosts, containers=0.5, guests=2, version="7", site_no=1, public_ip=None):
    public_ip = public_ip or "198.51.100.%d" % (10 + site_no)
    data = {
        "version": version,
        "rolls": ["base", "xen"],
        "global_attrs": {"Kickstart_PrivateAddress": "10.1.1.1", "Kickstart_PublicAddress": public_ip,
                         "Xen_Dom0MinMem": "768"},
        "appliances": [
            {"name": "compute", "graph": "default", "node": "compute", "membership": "Compute"},
            {"name": "frontend", "graph": "default", "node": "server", "membership": "Frontend"},
            {"name": "hosted-vm", "graph": "default", "node": None, "membership": "Hosted VM"},
            {"name": "vm-container", "graph": "default", "node": "client", "membership": "VM Container"},
        ],
        "hosts": [{
            "name": site, "membership": "Frontend", "cpus": 8, "rack": 0, "rank": 0,
            "attrs": {"mvc_memory_mb": "16384"},
            "interfaces": [
                {"subnet": "private", "iface": "eth0", "mac": mac(site_no, 0), "ip": "10.1.1.1",
                 "netmask": "255.255.0.0", "module": "e1000", "name": site},
                {"subnet": "public", "iface": "eth1", "mac": mac(site_no, 0, 1), "ip": public_ip,
                 "netmask": "255.255.255.0", "module": "e1000", "name": site},
            ],
        }],
    }
    n = 1
    ip = 0
    rack = 0
    rank = 0
    while n < hosts:
        is_container = (n % max(1, round(1 / containers))) == 0 if containers > 0 else False
        if is_container and n + guests >= hosts:
            is_container = False
        app = "vm-container" if is_container else "compute"
        name = "%s-%d-%d" % (app, rack, rank)
        ip += 1
        h = {"name": name, "membership": "VM Container" if is_container else "Compute",
             "cpus": 16 if is_container else 8, "rack": rack, "rank": rank,
             "attrs": {"mvc_memory_mb": "65536" if is_container else "32768", "mvc_disk_gb": "500"},
             "interfaces": [{"subnet": "private", "iface": "eth0", "mac": mac(site_no, n),
                             "ip": "10.1.%d.%d" % (254 - ip // 250, 254 - ip % 250), "netmask": "255.255.0.0",
                             "module": "e1000", "name": name}]}
        data["hosts"].append(h)
        n += 1
        if is_container:
            for s in range(guests):
                vname = "hosted-vm-%d-%d-%d" % (rack, rank, s)
                vlan = 2 + s
                h["interfaces"].append({"subnet": "private", "iface": "vlan%d" % vlan, "vlan": vlan})
                data["hosts"].append({
                    "name": vname, "membership": "Hosted VM", "cpus": 2, "rack": rack, "rank": rank,
                    "runaction": "none", "installaction": "install vm",
                    "interfaces": [{"iface": "eth0", "mac": "00:16:3e:%02x:%02x:%02x" % (site_no, n >> 8 & 0xff, n & 0xff),
                                    "name": vname, "vlan": vlan}],
                    "vm": {"container": name, "slice": s, "mem": 2048, "virt_type": "para",
                           "disks": [{"disk": "file:/state/partition1/xen/disks/%s.hda,hda,w" % vname, "size": 36}]},
                })
                n += 1
        rank += 1
        if rank == 32:
            rack, rank = rack + 1, 0
    return data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--site", required=True)
    p.add_argument("--hosts", type=int, default=2000)
    p.add_argument("--containers", type=float, default=0.5)
    p.add_argument("--guests", type=int, default=2)
    p.add_argument("--version", default="7")
    p.add_argument("--site-no", type=int, default=1)
    a = p.parse_args()
    json.dump(generate(a.site, a.hosts, a.containers, a.guests, a.version, a.site_no), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
