#!/usr/bin/env bash
# Starts and removes the slurm_cluster scenario's containers (root): three systemd containers from one image,
# each with a veth into the bridge of its own network namespace mvc-slurm-lan (10.0.77.0/24, no route out).
# Names: mvc-slurm-frontend (.1), mvc-slurm-compute-0 (.2), mvc-slurm-compute-1 (.3); hostname = name.
# For Open MPI's pinning (cmc.mvc.openmpi) the LAN interface is enX0 on compute-1 (as a Xen PV guest names it) and
# eth0 elsewhere, and each compute node has a second interface, decoy0 (192.168.77.<n>/24), whose peer is up but
# connected to nothing: an MPI job that used it between the compute nodes would hang or fail.
# Usage: cluster.sh up|down
set -euo pipefail
action=${1:?usage: cluster.sh up|down}
p=mvc-slurm
ns=$p-lan
here=$(cd "$(dirname "$0")" && pwd)
hosts=(frontend compute-0 compute-1)
ifnames=(eth0 eth0 enX0)

down() {
  for h in "${hosts[@]}"; do
    if podman container exists "$p-$h"; then podman rm -f -t 0 "$p-$h" >/dev/null; fi
  done
  if ip netns list | grep -qw "$ns"; then ip netns del "$ns"; fi
}

up() {
  local image t0 n=1 h pid ifname
  t0=$(date +%s)
  image=$("$here/../containers_common/build-image.sh")
  down
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link add br0 type bridge
  ip netns exec "$ns" ip link set br0 up
  # SYS_ADMIN: systemd can make the namespaces that units' sandboxing needs, as on a real host.
  for h in "${hosts[@]}"; do
    podman run -d --name "$p-$h" --hostname "$p-$h" --network none --systemd=always \
      --cap-add NET_ADMIN,NET_RAW,SYS_ADMIN "$image" /sbin/init >/dev/null
  done
  for h in "${hosts[@]}"; do
    pid=$(podman inspect -f '{{.State.Pid}}' "$p-$h")
    ifname=${ifnames[$((n - 1))]}
    ip link add "$p-$n" type veth peer name "$ifname" netns "$pid"
    ip link set "$p-$n" netns "$ns"
    ip netns exec "$ns" ip link set "$p-$n" master br0 up
    nsenter -t "$pid" -n ip addr add "10.0.77.$n/24" dev "$ifname"
    nsenter -t "$pid" -n ip link set "$ifname" up
    nsenter -t "$pid" -n ip link set lo up
    if [ "$h" != frontend ]; then
      ip link add "$p-d$n" type veth peer name decoy0 netns "$pid"
      ip link set "$p-d$n" netns "$ns"
      ip netns exec "$ns" ip link set "$p-d$n" up
      nsenter -t "$pid" -n ip addr add "192.168.77.$n/24" dev decoy0
      nsenter -t "$pid" -n ip link set decoy0 up
    fi
    n=$((n + 1))
  done
  "$here/../containers_common/wait-systemd.sh" "${hosts[@]/#/$p-}"
  echo "cluster up in $(( $(date +%s) - t0 ))s" >&2
}

case $action in
  up) up ;;
  down) down ;;
  *) echo "usage: cluster.sh up|down" >&2; exit 2 ;;
esac
