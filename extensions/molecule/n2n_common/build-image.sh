#!/usr/bin/env bash
# Builds (once) the Debian 12 systemd image that the overlay Molecule scenarios run (n2n_overlay and
# wireguard_overlay: one image, so one build serves both).
# The tag is a hash of this script, so the image is rebuilt only when the recipe changes.
# Containers have no internet: everything the roles install must already be in the image
# (python3-apt lets the apt module see that n2n is installed).
# Usage: build-image.sh  -> prints the image name on stdout; progress on stderr.
set -euo pipefail
# wireguard-go: these containers cannot load the kernel's wireguard module; the roles run the userspace one here.
packages=systemd-sysv,dbus,python3,python3-apt,n2n,wireguard-tools,wireguard-go,iproute2,bridge-utils,iputils-ping
packages=$packages,iptables,iperf3,procps
suite=bookworm
mirror=${MVC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=$(cat "$0"; echo "$packages $suite")
tag=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
image=localhost/cmc-mvc-n2n:$tag
if podman image exists "$image"; then
  echo "image $image is cached" >&2
  echo "$image"
  exit 0
fi
t0=$(date +%s)
root=$(mktemp -d /var/tmp/cmc-mvc-n2n-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
# Debian's own n2n sysv service would start an edge with the package's defaults: keep it off.
rm -f "$root"/etc/rc?.d/S??n2n
# No getty on a container console, and no apt timers that could touch the network.
chroot "$root" systemctl mask getty@tty1.service serial-getty@console.service console-getty.service \
  apt-daily.timer apt-daily-upgrade.timer systemd-networkd-wait-online.service >&2 || true



tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' - "$image" >&2
echo "built $image in $(( $(date +%s) - t0 ))s" >&2
# Older builds of this recipe are of no further use.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}'); do
  case $old in
    "$image") ;;
    localhost/cmc-mvc-n2n:*) podman rmi "$old" >/dev/null 2>&1 || true ;;
  esac
done
echo "$image"
