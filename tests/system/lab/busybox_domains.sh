#!/bin/sh
# Run inside a lab Dom0 (fed to ssh by test_lab.py and test_domains_create_concurrency.py): small PV domains
# started by hand (the Dom0's own kernel, a busybox initramfs with xen-netfront that takes its address from the
# kernel command line). Domain i is mvc-bench-i at 192.168.253.(10+i) on bridge xenbr0; the Dom0 is 192.168.253.1.
#   prepare                  the initramfs, the configs of domains 1-4, wait.sh, the Dom0's address
#   probe                    domain 1: does it answer ping, is its vif on the bridge, with carrier? (then destroyed)
#   raw serial|concurrent N  raw xl create of domains 1..N, each until it answers ping before the next, or all
#                            at once and then until all answer; prints "elapsed SECONDS"
#   destroy                  destroys every mvc-bench domain
#   clean                    destroy, and remove the directory and the address
# The init and wait.sh are written out literally: their $ expand when they run, not here.
# shellcheck disable=SC2016
set -eu
d=/var/tmp/mvc-bench
action=$1
now() { date +%s.%N; }

destroy() {
  for i in 1 2 3 4; do xl destroy "mvc-bench-$i" 2>/dev/null || true; done
}

case $action in
  prepare)
    rm -rf "$d"
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
      'ip=$(sed -n "s/.*mvcip=\([0-9.]*\).*/\1/p" /proc/cmdline)' \
      'ip link set eth0 up' \
      'ip addr add $ip/24 dev eth0' \
      'while true; do sleep 3600; done' > "$d/root/init"
    chmod 755 "$d/root/init"
    (cd "$d/root" && find . | cpio -H newc -o --quiet | gzip -1) > "$d/initrd.gz"
    rm -rf "$d/root"
    for i in 1 2 3 4; do
      printf '%s\n' "name = \"mvc-bench-$i\"" 'type = "pv"' "kernel = \"/boot/vmlinuz-$(uname -r)\"" \
        "ramdisk = \"$d/initrd.gz\"" "extra = \"console=hvc0 rdinit=/init mvcip=192.168.253.$((10 + i))\"" \
        'memory = 96' 'vcpus = 1' "vif = [\"mac=00:16:3e:0b:0c:0$i,bridge=xenbr0\"]" \
        'on_crash = "destroy"' > "$d/mvc-bench-$i.cfg"
    done
    # wait.sh I: until domain I answers ping (at most 300 s).
    printf '%s\n' '#!/bin/sh' 'end=$(( $(date +%s) + 300 ))' \
      'until ping -c 1 -W 1 "192.168.253.$((10 + $1))" >/dev/null 2>&1; do' \
      '  [ "$(date +%s)" -lt "$end" ] || { echo "mvc-bench-$1 did not answer in 300 s" >&2; exit 1; }' \
      'done' > "$d/wait.sh"
    ip addr replace 192.168.253.1/24 dev xenbr0
    echo prepared
    ;;
  raw)
    mode=$2 n=$3
    destroy
    t0=$(now)
    if [ "$mode" = serial ]; then
      for i in $(seq 1 "$n"); do
        xl create -q "$d/mvc-bench-$i.cfg"
        sh "$d/wait.sh" "$i"
      done
    else
      for i in $(seq 1 "$n"); do xl create -q "$d/mvc-bench-$i.cfg" & done
      wait
      for i in $(seq 1 "$n"); do sh "$d/wait.sh" "$i"; done
    fi
    t1=$(now)
    xl list | grep -c '^mvc-bench-' | sed 's/^/running /'
    destroy
    awk "BEGIN { printf \"elapsed %.2f\\n\", $t1 - $t0 }"
    ;;
  probe)
    destroy
    t0=$(date +%s)
    xl create -q "$d/mvc-bench-1.cfg"
    if sh "$d/wait.sh" 1; then ok=yes; else ok=no; fi
    echo "domu-ping: $ok after $(( $(date +%s) - t0 ))s"
    xl list
    domid=$(xl domid mvc-bench-1)
    echo "bridge-ports: $(cd /sys/class/net/xenbr0/brif && echo *)"
    echo "vif-carrier: $(cat "/sys/class/net/vif$domid.0/carrier")"
    destroy
    ;;
  destroy)
    destroy
    ;;
  clean)
    destroy
    ip addr del 192.168.253.1/24 dev xenbr0 2>/dev/null || true
    rm -rf "$d"
    ;;
  *)
    echo "bench_domains.sh: unknown action $action" >&2
    exit 2
    ;;
esac
