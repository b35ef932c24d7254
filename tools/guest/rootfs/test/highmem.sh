#!/bin/sh
# highmem: memory above 4 GiB (LPAE). Run on vexpress-a15 with -m 6G and Debian's
# armmp-lpae kernel: the kernel must see all 6 GiB (MemTotal at least 5900 MiB: 6144 MiB less
# what the kernel keeps; 5990 under armvex), and
# /bin/mem-pattern (tools/guest/highmem/mem-pattern.c) must fill 2 x 2 GiB at once (more
# than the 2 GiB of RAM below 4 GiB, so much of it lies above) and read every word back
# with no error and the checksum its pattern gives (computed on the host from the same
# formula). QEMU 7.2 cannot run this: its walks of translation tables above 4 GiB fail
# (see docs/simd-and-lpae.md).
# Last line: "ARMVEX-TEST highmem PASS" or "ARMVEX-TEST highmem FAIL (reason)".

EXPECTED=944c8ea6

fail() { echo "ARMVEX-TEST highmem FAIL ($*)"; exit 1; }

total=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
high=$(awk '/^HighTotal:/ { print int($2 / 1024) }' /proc/meminfo)
echo "highmem: MemTotal ${total} MiB, HighTotal ${high} MiB"
free -m
[ "$total" -ge 5900 ] || fail "MemTotal is ${total} MiB, expected at least 5900"
out=$(/bin/mem-pattern) || fail "mem-pattern exited $?: $out"
echo "$out"
sum=$(echo "$out" | sed -n 's/^mem-pattern: 2 x 2048 MiB, errors 0, checksum //p')
[ "$sum" = "$EXPECTED" ] || fail "mem-pattern: checksum '$sum', expected $EXPECTED"
free -m
echo "ARMVEX-TEST highmem PASS"
