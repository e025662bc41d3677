#!/usr/bin/env bash
# Builds (once) the Debian 12 systemd image of every podman scenario (n2n_overlay, wireguard_overlay, slurm_cluster)
# and of the lab's supernode host: one debootstrap for all of them on a fresh machine (two separate images cost
# about 140 s more there).
# The tag is a hash of this script, so the image is rebuilt only when the recipe changes.
# Containers have no internet: everything the roles install must already be in the image
# (python3-apt lets the apt module see what is installed).
# Usage: build-image.sh  -> prints the image name on stdout; progress on stderr.
set -euo pipefail
# wireguard-go: these containers cannot load the kernel's wireguard module; the roles run the userspace one here.
packages=systemd-sysv,dbus,python3,python3-apt,n2n,wireguard-tools,wireguard-go,iproute2,bridge-utils,iputils-ping
packages=$packages,iptables,iperf3,procps
packages=$packages,slurmctld,slurmd,slurm-client,munge,openmpi-bin,python3-mpi4py,libpmix2,chrony
suite=bookworm
mirror=${MVC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=$(cat "$0"; echo "$packages $suite")
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
image=localhost/cmc-mvc-containers:$tag
if podman image exists "$image"; then
  echo "image $image is cached" >&2
  echo "$image"
  exit 0
fi
t0=$(date +%s)
root=$(mktemp -d /var/tmp/cmc-mvc-containers-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"  # mktemp's 0700 would stop munge's postinst (run as user munge) at the root directory
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
# Debian's own n2n sysv service would start an edge with the package's defaults, munge and Slurm would start
# with the package's key and no configuration, and chrony with a public pool: all off until a role turns them on.
rm -f "$root"/etc/rc?.d/S??n2n
chroot "$root" systemctl disable munge.service slurmctld.service slurmd.service chrony.service >&2
# No getty on a container console, and no apt timers that could touch the network.
chroot "$root" systemctl mask getty@tty1.service serial-getty@console.service console-getty.service \
  apt-daily.timer apt-daily-upgrade.timer systemd-networkd-wait-online.service >&2 || true
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' - "$image" >&2
echo "built $image in $(( $(date +%s) - t0 ))s" >&2
for old in $(podman images --format '{{.Repository}}:{{.Tag}}'); do
  case $old in
    "$image") ;;
    localhost/cmc-mvc-containers:*|localhost/cmc-mvc-n2n:*|localhost/cmc-mvc-slurm:*)
      podman rmi "$old" >/dev/null 2>&1 || true ;;
  esac
done
echo "$image"
