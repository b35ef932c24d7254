#!/bin/sh
# kmi: a line typed on the board's PS/2 keyboard (KMI 0, atkbd) reaches the guest. The
# keys arrive as host input (a replayed recording) while this waits for a line on tty1,
# the virtual console the keyboard types into.
# Last line: "ARMVEX-TEST kmi PASS" or "ARMVEX-TEST kmi FAIL (reason)".

grep -q . /sys/bus/serio/devices/serio0/description 2>/dev/null || true
echo "kmi: keyboard: $(cat /sys/class/input/input*/name 2>/dev/null | tr '\n' ',' )"
echo "kmi: waiting for a line on tty1"
line=$(timeout 30 head -n1 /dev/tty1) || { echo "ARMVEX-TEST kmi FAIL (no line typed)"; exit 1; }
echo "kmi: typed: $line"
[ "$line" = "Hello, KMI 42!" ] || { echo "ARMVEX-TEST kmi FAIL (unexpected line)"; exit 1; }
echo "ARMVEX-TEST kmi PASS"
