#!/usr/bin/env bash
# Builds and removes the NAT test topology of the overlay scenarios (n2n_overlay: prefix mvcn2n, wireguard_overlay:
# mvcwg) on this host (root):
#   WAN (namespace mvcn2n-wan, bridge wan0, 198.51.100.0/24) with the supernode container (198.51.100.10);
#   site A and site B, each a private 10.0.0.0/24 LAN behind its own MASQUERADE router namespace
#   (198.51.100.1 and .2). Both sites use the same private subnet; nothing routes between them but NAT.
#   Containers: a1, a2 at site A (10.0.0.2, .3); b1, b2 at site B (10.0.0.2, .3).
# Every address lives only inside these namespaces. Usage: topology.sh up|down [PREFIX [firewall]]
# firewall: each router drops UDP that comes from the WAN to its own address, as a site router's firewall does; the
# NAT's replies are forwarded, not delivered to the router, so they still pass.
set -euo pipefail
action=${1:?usage: topology.sh up|down [PREFIX [firewall]]}
p=${2:-mvcn2n}
firewall=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
hosts_a=(a1 a2)
hosts_b=(b1 b2)
all=(sn "${hosts_a[@]}" "${hosts_b[@]}")

nsx() { ip netns exec "$1" "${@:2}"; }

down() {
  for h in "${all[@]}"; do
    if podman container exists "$p-$h"; then podman rm -f -t 0 "$p-$h" >/dev/null; fi
  done
  for ns in wan ra rb; do
    if ip netns list | grep -qw "$p-$ns"; then ip netns del "$p-$ns"; fi
  done
}

# attach NAME HOSTNS BRIDGE ADDR [GATEWAY]: veth from container NAME's eth0 to BRIDGE in namespace HOSTNS.
attach() {
  local name=$1 ns=$2 br=$3 addr=$4 gw=${5:-} pid
  pid=$(podman inspect -f '{{.State.Pid}}' "$p-$name")
  ip link add "$p-$name" type veth peer name eth0 netns "$pid"
  ip link set "$p-$name" netns "$p-$ns"
  nsx "$p-$ns" ip link set "$p-$name" master "$br" up
  nsenter -t "$pid" -n ip addr add "$addr" dev eth0
  nsenter -t "$pid" -n ip link set eth0 up
  nsenter -t "$pid" -n ip link set lo up
  if [ -n "$gw" ]; then nsenter -t "$pid" -n ip route add default via "$gw"; fi
}

up() {
  local image t0
  t0=$(date +%s)
  image=$("$here/../containers_common/build-image.sh")
  down
  ip netns add "$p-wan"
  nsx "$p-wan" ip link set lo up
  nsx "$p-wan" ip link add wan0 type bridge
  nsx "$p-wan" ip link set wan0 up
  local i=1 r
  for r in ra rb; do
    ip netns add "$p-$r"
    nsx "$p-$r" ip link set lo up
    # Both ends made in their namespaces: no name in this host's namespace that a parallel run could also take.
    ip link add "$p-$r-w" netns "$p-wan" type veth peer name wan netns "$p-$r"
    nsx "$p-wan" ip link set "$p-$r-w" master wan0 up
    nsx "$p-$r" ip addr add "198.51.100.$i/24" dev wan
    nsx "$p-$r" ip link set wan up
    nsx "$p-$r" ip link add lan0 type bridge
    nsx "$p-$r" ip addr add 10.0.0.1/24 dev lan0
    nsx "$p-$r" ip link set lan0 up
    nsx "$p-$r" sysctl -qw net.ipv4.ip_forward=1
    nsx "$p-$r" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
    if [ "$firewall" = firewall ]; then nsx "$p-$r" iptables -A INPUT -i wan -p udp -j DROP; fi
    i=$((i + 1))
  done
  # SYS_ADMIN: systemd in the container can then make the mount namespaces that the units' sandboxing
  # (ProtectSystem, PrivateTmp, DynamicUser, ...) needs, as on a real host; without it they fail with 226/NAMESPACE.
  # The public host forwards for the WireGuard hub; /proc/sys is read-only inside, so its interfaces made later
  # (wg-mvc) take forwarding from the namespace's default, set here. The n2n supernode does not route: no effect.
  local extra
  for h in "${all[@]}"; do
    extra=()
    if [ "$h" = sn ]; then extra=(--sysctl net.ipv4.conf.default.forwarding=1); fi
    podman run -d --name "$p-$h" --hostname "$h" --network none --systemd=always "${extra[@]}" \
      --cap-add NET_ADMIN,NET_RAW,SYS_ADMIN --device /dev/net/tun "$image" /sbin/init >/dev/null
  done
  attach sn wan wan0 198.51.100.10/24
  local n=2 h
  for h in "${hosts_a[@]}"; do attach "$h" ra lan0 "10.0.0.$n/24" 10.0.0.1; n=$((n + 1)); done
  n=2
  for h in "${hosts_b[@]}"; do attach "$h" rb lan0 "10.0.0.$n/24" 10.0.0.1; n=$((n + 1)); done
  "$here/../containers_common/wait-systemd.sh" "${all[@]/#/$p-}"
  echo "topology up in $(( $(date +%s) - t0 ))s" >&2
}

case $action in
  up) up ;;
  down) down ;;
  *) echo "usage: topology.sh up|down [PREFIX]" >&2; exit 2 ;;
esac
