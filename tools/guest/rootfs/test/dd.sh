#!/bin/sh
# dd: sequential throughput of the root disk (virtio-blk), measured with dd in the
# guest's own clock. Sizes in MiB: armvex.dd_mb=N on the kernel command line (default 8).
#   write: /data/dd.bin from /dev/zero, 1 MiB blocks, fsync'd before dd reports
#   read:  the same file after dropping the page cache
#   raw:   the first N MiB of the block device itself, page cache dropped
# Prints "dd: <what> <bytes> bytes in <s> s: <rate>" lines (busybox dd's own figures),
# then "ARMVEX-TEST dd PASS". On a read-only root only the raw read runs.

MB=8
for arg in $(cat /proc/cmdline); do
    case "$arg" in armvex.dd_mb=*) MB=${arg#armvex.dd_mb=} ;; esac
done
F=/data/dd.bin

fail() { rm -f $F; echo "ARMVEX-TEST dd FAIL ($*)"; exit 1; }
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches || fail "cannot drop caches"; }
# busybox dd ends with "N bytes (X MB) copied, T seconds, R MB/s"
run() { # run WHAT dd-args...
    what=$1; shift
    out=$(dd "$@" 2>&1) || fail "dd $* failed: $out"
    line=$(echo "$out" | tail -n1)
    bytes=${line%% bytes*}
    secs=$(echo "$line" | sed -n 's/.*copied, \([0-9.]*\) seconds.*/\1/p')
    rate=${line##*, }
    echo "dd: $what $bytes bytes in $secs s: $rate"
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
run raw-read if="$dev" of=/dev/null bs=1M count="$MB"
echo "ARMVEX-TEST dd PASS"
