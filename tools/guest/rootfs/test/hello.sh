#!/bin/sh
# hello: the smallest useful boot test. Prints the kernel, the CPU count, the board, the
# CPU and the virtio devices. With armvex.smp=N on the kernel command line (run-qemu adds
# it) it fails unless the expected number of CPUs is online: N, or fewer if the device
# tree describes fewer (vexpress-v2p-ca15-tc1.dtb has 2 CPUs, so under QEMU `-smp 4` on
# vexpress-a15 gives Linux 2; armvex adds the missing cpu nodes, so Linux gets 4).
# A CPU missing means a secondary CPU did not start.
# ("present" CPUs come from the device tree: the ca9 DTB lists 4 whatever the board has;
# Linux then starts only as many as the A9 SCU reports.)
# Last line: "ARMVEX-TEST hello PASS" or "ARMVEX-TEST hello FAIL (reason)".

uname -a
cat /proc/cpuinfo | grep -c processor
echo "hello: board: $(tr -d '\000' </proc/device-tree/model)"
echo "hello: CPU: $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')," \
    "features: $(grep -m1 '^Features' /proc/cpuinfo | sed 's/ *$//; s/.*: //')"
echo "hello: CPUs present $(cat /sys/devices/system/cpu/present)," \
    "online $(cat /sys/devices/system/cpu/online)"
for d in /sys/bus/virtio/devices/*; do
    [ -e "$d" ] || continue
    echo "hello: virtio device $(basename "$d") (device id $(cat "$d/device"))" \
        "on $(basename "$(readlink -f "$d/..")")"
done

want=
for arg in $(cat /proc/cmdline); do
    case "$arg" in armvex.smp=*) want=${arg#armvex.smp=} ;; esac
done
online=$(grep -c '^processor' /proc/cpuinfo)
dtcpus=$(ls -d /proc/device-tree/cpus/cpu@* 2>/dev/null | wc -l)
if [ -n "$want" ] && [ "$dtcpus" -gt 0 ] && [ "$dtcpus" -lt "$want" ]; then
    echo "hello: $want CPUs asked for, the device tree describes $dtcpus: expecting $dtcpus"
    want=$dtcpus
fi
if [ -n "$want" ] && [ "$online" != "$want" ]; then
    echo "ARMVEX-TEST hello FAIL ($online CPUs online, expected $want)"
    exit 1
fi
echo "ARMVEX-TEST hello PASS"
