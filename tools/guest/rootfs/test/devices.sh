#!/bin/sh
# devices: which of the board's AMBA (PrimeCell) devices Linux bound, and that none is left
# deferred. Linux reads each PrimeCell's ID registers before it matches a driver; a device
# whose IDs read zero is deferred forever and, ten seconds after boot, reported as
# "deferred probe pending". So this test first lets the guest's uptime pass 12 s (idle
# time costs armvex nothing), then lists every AMBA device with its peripheral ID and
# driver, and checks the kernel log.
# Last line: "ARMVEX-TEST devices PASS" or "ARMVEX-TEST devices FAIL (reason)".

while :; do
    up=$(cut -d. -f1 /proc/uptime)
    [ "$up" -ge 12 ] && break
    sleep 1
done
for d in /sys/bus/amba/devices/*; do
    [ -e "$d" ] || continue
    drv=-
    [ -e "$d/driver" ] && drv=$(basename "$(readlink -f "$d/driver")")
    echo "devices: $(basename "$d") id $(cat "$d/id" 2>/dev/null) driver $drv"
done
for c in /sys/class/mmc_host/* /sys/class/watchdog/* /sys/class/graphics/fb* /sys/bus/serio/devices/*; do
    [ -e "$c" ] || continue
    echo "devices: $(basename "$c") present"
done
ls /sys/class/input 2>/dev/null | grep -q input && for i in /sys/class/input/input*; do
    echo "devices: input $(cat "$i/name")"
done
if dmesg | grep -q "deferred probe pending"; then
    dmesg | grep "deferred probe pending"
    echo "ARMVEX-TEST devices FAIL (deferred probe pending)"
    exit 1
fi
echo "ARMVEX-TEST devices PASS"
