#!/bin/sh
# dd: sequential throughput of the root disk (virtio-blk) with dd, timed by the guest's
# own clock: a mark written to /dev/kmsg (at debug level, so not on the console) before
# and after each dd, and their printk timestamps (microseconds) read back with dmesg.
# Size in MiB: armvex.dd_mb=N on the kernel command line (default 16).
#   write:    /data/dd.bin from /dev/zero, 1 MiB blocks, fsync'd before dd returns
#   read:     the same file after dropping the page cache
#   raw-read: the first N MiB of the block device with O_DIRECT (no page cache)
# Prints "dd: <what> <bytes> bytes in <seconds> s: <rate> MiB/s" lines, then
# "ARMVEX-TEST dd PASS". On a read-only root only raw-read runs.
# (Debian's busybox dd does not print its own "copied, ... MB/s" line.)

MB=16
for arg in $(cat /proc/cmdline); do
    case "$arg" in armvex.dd_mb=*) MB=${arg#armvex.dd_mb=} ;; esac
done
F=/data/dd.bin

fail() { rm -f $F; echo "ARMVEX-TEST dd FAIL ($*)"; exit 1; }
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches || fail "cannot drop caches"; }
mark() { echo "<7>armvex-dd: $1" >/dev/kmsg; }  # echo is a shell builtin: no fork
stamp() { # the printk time of mark $1, in seconds
    dmesg | sed -n "s/^[<0-9>]*\[ *\([0-9.]*\)\] armvex-dd: $1\$/\1/p" | tail -n1
}
run() { # run WHAT dd-arguments...
    what=$1; shift
    mark "$what start"
    out=$(dd "$@" 2>&1) || fail "dd $* failed: $out"
    mark "$what end"
    t0=$(stamp "$what start"); t1=$(stamp "$what end")
    [ -n "$t0" ] && [ -n "$t1" ] || fail "cannot find the /dev/kmsg marks in dmesg"
    awk -v what="$what" -v bytes=$((MB * 1048576)) -v t0="$t0" -v t1="$t1" 'BEGIN {
        s = t1 - t0; if (s < 0.000001) s = 0.000001
        printf "dd: %s %d bytes in %.3f s: %.1f MiB/s\n", what, bytes, s, bytes / 1048576 / s }'
}

dev=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
mode=$(awk '$2 == "/" { m = $4 } END { sub(/,.*/, "", m); print m }' /proc/mounts)
echo "dd: $MB MiB, root $dev ($mode)"
if [ "$mode" = rw ]; then
    rm -f $F
    drop_caches
    run write if=/dev/zero of=$F bs=1M count="$MB" conv=fsync
    drop_caches
    run read if=$F of=/dev/null bs=1M
    rm -f $F
    sync
fi
drop_caches
run raw-read if="$dev" of=/dev/null bs=1M count="$MB" iflag=direct
echo "ARMVEX-TEST dd PASS"
