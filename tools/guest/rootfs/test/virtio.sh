#!/bin/sh
# virtio: virtio-rng and virtio-console (armvex --device virtio-rng --device virtio-console).
#   - /dev/hwrng is served by virtio_rng: 64 bytes are read from it directly (no rngd) and
#     printed in hex (with armvex's seeded generator, the same in every run);
#   - /dev/hvc0 exists: a line is written to it (the host finds it in its --chardev).
# Last line: "ARMVEX-TEST virtio PASS" or "ARMVEX-TEST virtio FAIL (reason)".

fail() { echo "ARMVEX-TEST virtio FAIL ($*)"; exit 1; }

current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
echo "virtio: hwrng $current"
case "$current" in virtio_rng*) ;; *) fail "the current hwrng is '$current', not virtio_rng" ;; esac
bytes=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
echo "virtio: hwrng bytes $bytes"
[ ${#bytes} = 128 ] || fail "read ${#bytes} hex digits from /dev/hwrng, not 128"
[ "$bytes" != "$(printf '%0128d' 0)" ] || fail "/dev/hwrng gave zeros"

[ -c /dev/hvc0 ] || fail "no /dev/hvc0"
echo "hvc0: hello from the guest" >/dev/hvc0 || fail "cannot write /dev/hvc0"
echo "virtio: wrote to /dev/hvc0"
echo "ARMVEX-TEST virtio PASS"
