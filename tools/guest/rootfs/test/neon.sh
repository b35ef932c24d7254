#!/bin/sh
# neon: Advanced SIMD in user space. The kernel must have found NEON (MVFR1) and say so in
# /proc/cpuinfo's Features; then /bin/neon-sum-arm and /bin/neon-sum-thumb (built from
# tools/guest/neon/neon-sum.c: integer, saturating, structure load/store, table lookup and
# single-precision NEON work, checksummed) must both print the checksum and FPSCR that QEMU
# 7.2's Cortex-A9 and Cortex-A15 print (measured with tools/guest/run-qemu --test neon).
# Last line: "ARMVEX-TEST neon PASS" or "ARMVEX-TEST neon FAIL (reason)".

EXPECTED_SUM=cf2ee9ac
EXPECTED_FPSCR=08000093

features=$(grep -m1 '^Features' /proc/cpuinfo)
echo "neon: $features"
case " ${features#*:} " in
    *" neon "*) ;;
    *) echo "ARMVEX-TEST neon FAIL (no neon in /proc/cpuinfo)"; exit 1 ;;
esac
for isa in arm thumb; do
    out=$(/bin/neon-sum-$isa) || { echo "ARMVEX-TEST neon FAIL (neon-sum-$isa exited $?)"; exit 1; }
    echo "$out" | sed "s/^neon-sum:/neon-sum-$isa:/"
    sum=$(echo "$out" | sed -n 's/^neon-sum: checksum //p')
    fpscr=$(echo "$out" | sed -n 's/^neon-sum: fpscr //p')
    if [ "$sum" != "$EXPECTED_SUM" ] || [ "$fpscr" != "$EXPECTED_FPSCR" ]; then
        echo "ARMVEX-TEST neon FAIL (neon-sum-$isa: checksum $sum fpscr $fpscr, expected $EXPECTED_SUM $EXPECTED_FPSCR)"
        exit 1
    fi
done
echo "ARMVEX-TEST neon PASS"
