#!/usr/bin/env bash
# Builds (once) the Debian 12 systemd image with Slurm, munge and Open MPI preinstalled, for the slurm_cluster
# scenario: the three containers share it, so apt runs at build time only and the role's install step is a no-op.
# The tag is a hash of this script, so the image is rebuilt only when the recipe changes.
# Usage: build-image.sh  -> prints the image name on stdout; progress on stderr.
set -euo pipefail
packages=systemd-sysv,dbus,python3,python3-apt,procps,iproute2,slurmctld,slurmd,slurm-client,munge
packages=$packages,openmpi-bin,python3-mpi4py,libpmix2
suite=bookworm
mirror=${MVC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=$(cat "$0"; echo "$packages $suite")
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
image=localhost/cmc-mvc-slurm:$tag
if podman image exists "$image"; then
  echo "image $image is cached" >&2
  echo "$image"
  exit 0
fi
t0=$(date +%s)
root=$(mktemp -d /var/tmp/cmc-mvc-slurm-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"  # mktemp's 0700 would stop munge's postinst (run as user munge) at the root directory
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
# The package's per-node random munge key is not the cluster's: the role must write it (and the test checks that).
# No getty on a container console, and no apt timers that could touch the network.
chroot "$root" systemctl mask getty@tty1.service serial-getty@console.service console-getty.service \
  apt-daily.timer apt-daily-upgrade.timer systemd-networkd-wait-online.service >&2 || true
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' - "$image" >&2
echo "built $image in $(( $(date +%s) - t0 ))s" >&2
# Older builds of this recipe are of no further use.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}'); do
  case $old in
    "$image") ;;
    localhost/cmc-mvc-slurm:*) podman rmi "$old" >/dev/null 2>&1 || true ;;
  esac
done
echo "$image"
