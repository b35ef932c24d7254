#!/bin/sh
# hello: the smallest useful boot test. Prints the kernel, the CPU count, the board, the
# CPU and the virtio devices. With armvex.smp=N on the kernel command line (run-qemu adds
# it) it fails unless exactly N CPUs are online: a secondary CPU that did not start.
# (The CPUs "present" come from the device tree, which lists 4 on vexpress-a9 whatever
# the board really has, so they say nothing.)
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
if [ -n "$want" ] && [ "$online" != "$want" ]; then
    echo "ARMVEX-TEST hello FAIL ($online CPUs online, expected $want)"
    exit 1
fi
echo "ARMVEX-TEST hello PASS"
