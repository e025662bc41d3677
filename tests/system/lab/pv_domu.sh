#!/bin/sh
# Run inside a lab dom0 (fed to ssh by test_lab.py): start a PV domU by hand with `xl create` (dom0's own
# kernel, a busybox initramfs carrying xen-netfront), give its vif a place on bridge xenbr0, and report what
# dom0 sees: ping over the bridge, the bridge's ports, the vif's carrier. Everything is removed on exit.
set -eu
d=$(mktemp -d /tmp/mvc-domu.XXXXXX)
cleanup() {
  xl destroy mvc-lab-test 2>/dev/null || true
  ip addr del 192.168.254.1/24 dev xenbr0 2>/dev/null || true
  rm -rf "$d"
}
trap cleanup EXIT
mkdir -p "$d/root/bin" "$d/root/proc" "$d/root/sys" "$d/root/dev"
cp /bin/busybox "$d/root/bin/busybox"
ko=$(modinfo -n xen-netfront)
case $ko in
  *.xz) xz -dc "$ko" > "$d/root/xen-netfront.ko" ;;
  *) cp "$ko" "$d/root/xen-netfront.ko" ;;
esac
printf '%s\n' '#!/bin/busybox sh' \
  '/bin/busybox --install -s /bin' \
  'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev' \
  'insmod /xen-netfront.ko' \
  'ip link set eth0 up' \
  'ip addr add 192.168.254.2/24 dev eth0' \
  'echo MVC-DOMU-READY' \
  'while true; do sleep 3600; done' > "$d/root/init"
chmod 755 "$d/root/init"
(cd "$d/root" && find . | cpio -H newc -o --quiet | gzip -1) > "$d/initrd.gz"
printf '%s\n' 'name = "mvc-lab-test"' 'type = "pv"' "kernel = \"/boot/vmlinuz-$(uname -r)\"" \
  "ramdisk = \"$d/initrd.gz\"" 'extra = "console=hvc0 rdinit=/init"' 'memory = 192' 'vcpus = 1' \
  'vif = ["mac=00:16:3e:0a:0b:0c,bridge=xenbr0"]' > "$d/domu.cfg"
ip addr add 192.168.254.1/24 dev xenbr0
t0=$(date +%s)
xl create "$d/domu.cfg"
ok=no
for _ in $(seq 1 120); do
  if ping -c 1 -W 1 192.168.254.2 >/dev/null 2>&1; then ok=yes; break; fi
done
echo "domu-ping: $ok after $(( $(date +%s) - t0 ))s"
xl list
domid=$(xl domid mvc-lab-test)
echo "bridge-ports: $(cd /sys/class/net/xenbr0/brif && echo *)"
echo "vif-carrier: $(cat "/sys/class/net/vif$domid.0/carrier")"
