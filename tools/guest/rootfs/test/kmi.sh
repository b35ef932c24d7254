#!/bin/sh
# kmi: a line typed on the board's PS/2 keyboard (KMI 0, atkbd) reaches the guest. The
# keys arrive as host input (a replayed recording, from 8 s of virtual time on) while this
# holds tty1, the virtual console the keyboard types into, open and waits for a line.
# Last line: "ARMVEX-TEST kmi PASS" or "ARMVEX-TEST kmi FAIL (reason)".

tries=70
until grep -qx "AT Raw Set 2 keyboard" /sys/class/input/input*/name 2>/dev/null; do
    [ $tries -gt 0 ] || { echo "ARMVEX-TEST kmi FAIL (no keyboard)"; exit 1; }
    tries=$((tries - 1))
    usleep 100000
done
echo "kmi: keyboard: AT Raw Set 2 keyboard; waiting for a line on tty1"
line=$(timeout 30 head -n1 /dev/tty1) || {
    grep kmi /proc/interrupts
    echo "ARMVEX-TEST kmi FAIL (no line typed)"
    exit 1
}
echo "kmi: typed: $line"
[ "$line" = "Hello, KMI 42!" ] || { echo "ARMVEX-TEST kmi FAIL (unexpected line)"; exit 1; }
echo "ARMVEX-TEST kmi PASS"
