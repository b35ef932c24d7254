#!/bin/sh
# kallsyms: write the kernel's symbol table (/proc/kallsyms: address, type, name) to
# /kallsyms on the root disk, where tools/guest/kallsyms reads it back. Debian's armmp
# kernel ships no System.map; these are the addresses gdb breakpoints and armvex's
# --profile use. ARM Linux has no address randomisation: they are the same on every boot.
# Last line: "ARMVEX-TEST kallsyms PASS" or "... FAIL (reason)".

cat /proc/kallsyms >/kallsyms || { echo "ARMVEX-TEST kallsyms FAIL (cannot read /proc/kallsyms)"; exit 1; }
sync
n=$(wc -l </kallsyms)
if ! grep -q ' T start_kernel$' /kallsyms || grep -q '^00000000 T start_kernel$' /kallsyms; then
    echo "ARMVEX-TEST kallsyms FAIL (no address for start_kernel: kptr_restrict?)"
    exit 1
fi
echo "kallsyms: $n symbols, start_kernel at $(grep ' T start_kernel$' /kallsyms | cut -d' ' -f1)"
echo "ARMVEX-TEST kallsyms PASS"
