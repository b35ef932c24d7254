#!/bin/sh
# devmem: an adversarial Linux userland. As root, write random values of random widths (and
# read random registers: reads have side effects too, a FIFO pops, an interrupt is
# acknowledged) through /dev/mem (busybox devmem) into every MMIO register window of the
# board, one window after another, in an order shuffled by armvex.seed=N on the kernel
# command line (awk's srand: the same seed, the same accesses).
#
# The windows Linux needs to go on at all come last: the system registers (SYS_CFGCTRL
# can reboot or power the board off), the timers, the interrupt controller, the console
# UART and the virtio-mmio transport of the root disk. The guest is expected to crash,
# hang or power off somewhere along the way; what is tested is the emulator (it must not
# panic or hang, and the host's disk image must not change: see tests/tests/devmem.rs).
#
# /dev/mem reaches MMIO here because the kernel is told `iomem=relaxed`: Debian's armmp
# kernel has CONFIG_STRICT_DEVMEM (on ARM that refuses RAM only: devmem_is_allowed()) and
# CONFIG_IO_STRICT_DEVMEM (which also refuses every region a driver has claimed;
# iomem=relaxed turns that second check off).
# Each window's line is printed before it is attacked: the console log shows how far the
# guest got. Last line, if it gets there: "ARMVEX-TEST devmem PASS".

seed=1
per=24
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        armvex.seed=*) seed=${arg#armvex.seed=} ;;
        armvex.devmem=*) per=${arg#armvex.devmem=} ;;
    esac
done

# name base size: the board files' register windows (boards/*.toml).
if grep -q ca9 /proc/device-tree/compatible; then
    windows="sp810 0x10001000 0x1000
pl041 0x10004000 0x1000
pl181 0x10005000 0x1000
kmi0 0x10006000 0x1000
kmi1 0x10007000 0x1000
uart1 0x1000a000 0x1000
uart2 0x1000b000 0x1000
uart3 0x1000c000 0x1000
wdt 0x1000f000 0x1000
virtio1 0x10013200 0x200
virtio2 0x10013400 0x200
virtio3 0x10013600 0x200
i2c 0x10016000 0x1000
rtc 0x10017000 0x1000
clcd-mb 0x1001f000 0x1000
clcd-db 0x10020000 0x1000
dmc 0x100e0000 0x1000
smc 0x100e1000 0x1000
wdt-db 0x100e5000 0x1000
timer-db 0x100e4000 0x1000
l2c 0x1e00a000 0x1000
lan9118 0x4e000000 0x100"
    last="sysregs 0x10000000 0x1000
timer01 0x10011000 0x1000
timer23 0x10012000 0x1000
mpcore 0x1e000000 0x2000
uart0 0x10009000 0x1000
virtio0 0x10013000 0x200"
else
    windows="sp810 0x1c020000 0x1000
pl041 0x1c040000 0x1000
pl181 0x1c050000 0x1000
kmi0 0x1c060000 0x1000
kmi1 0x1c070000 0x1000
uart1 0x1c0a0000 0x1000
uart2 0x1c0b0000 0x1000
uart3 0x1c0c0000 0x1000
wdt 0x1c0f0000 0x1000
virtio1 0x1c130200 0x200
virtio2 0x1c130400 0x200
virtio3 0x1c130600 0x200
i2c 0x1c160000 0x1000
rtc 0x1c170000 0x1000
clcd-mb 0x1c1f0000 0x1000
dmc 0x2b0a0000 0x1000
smc 0x7ffd0000 0x1000
lan9118 0x1a000000 0x100"
    last="sysregs 0x1c010000 0x1000
timer01 0x1c110000 0x1000
timer23 0x1c120000 0x1000
mpcore 0x2c000000 0x3000
uart0 0x1c090000 0x1000
virtio0 0x1c130000 0x200"
fi

echo "devmem: seed $seed, $per accesses per window"
# The plan: the shuffled windows, then the vital ones in order; per window `per` accesses
# "w ADDR WIDTH VALUE" or "r ADDR WIDTH", aligned to their width.
{
    echo "$windows" | awk -v seed="$seed" 'BEGIN { srand(seed) } { print rand(), $0 }' |
        sort -n | cut -d' ' -f2-
    echo "$last"
} | while read -r name base size; do
    echo "$name $((base)) $((size))"
done | awk -v seed="$seed" -v per="$per" '
    # (busybox awk without its math library: no ^, so powers of two by doubling; and its
    # printf %x stops at 2^31 - 1, so values are printed in decimal, which devmem takes.)
    function pow2(n,   v) { v = 1; while (n-- > 0) v *= 2; return v }
    BEGIN { srand(seed + 1) }
    {
        print "window", $1
        base = $2 + 0; size = $3 + 0
        for (i = 0; i < per; i++) {
            k = int(rand() * 3)
            w = k == 0 ? 8 : k == 1 ? 16 : 32
            bytes = w / 8
            off = int(rand() * size / bytes) * bytes
            r = rand()
            if (r < 0.25) v = 0
            else if (r < 0.4) v = pow2(w) - 1
            else if (r < 0.55) v = pow2(int(rand() * w))
            else v = int(rand() * pow2(w))
            if (rand() < 0.2) printf "r 0x%08x %d\n", base + off, w
            else printf "w 0x%08x %d %.0f\n", base + off, w, v
        }
    }' >/tmp/devmem.plan

while read -r op a b c; do
    case "$op" in
        window) echo "devmem: window $a" ;;
        w) devmem "$a" "$b" "$c" ;;
        r) devmem "$a" "$b" >/dev/null ;;
    esac
done </tmp/devmem.plan
echo "ARMVEX-TEST devmem PASS"
