#!/bin/sh
# crash: crash consistency. tests/tests/reliability.rs installs this as /test/crash.sh in a
# copy of the guest image (so the guest itself is unchanged) and kills armvex with SIGKILL at random
# (virtual) instants while this runs, then checks the image on the host. Each step makes
# something durable, and only then says so on the console:
#   1. /data/crash/N (N = 1, 2, ...): 1 to 64 KiB from /dev/urandom, written with
#      `dd conv=fsync` (fsync of the file), then the directory fsynced (`sync DIR`, which
#      opens it and calls fsync) so that its name is durable too; then
#      "crash: durable N <sha256>" is printed.
#   2. /data/crash/latest replaced atomically: "N" written to latest.tmp, fsynced, renamed
#      over latest, the directory fsynced; then "crash: latest N" is printed.
# After a kill, every file announced durable must read back with its checksum, and latest
# must hold the last announced N or the one after it (the rename either happened or not).
# Count: armvex.crash_files=N on the kernel command line (default 60; 0 just boots).
# Last line: "ARMVEX-TEST crash PASS" or "ARMVEX-TEST crash FAIL (reason)".

FILES=60
for arg in $(cat /proc/cmdline); do
    case "$arg" in armvex.crash_files=*) FILES=${arg#armvex.crash_files=} ;; esac
done
D=/data/crash
fail() { echo "ARMVEX-TEST crash FAIL ($*)"; exit 1; }

mkdir -p $D && sync /data || fail "cannot make $D"
echo "crash: writing $FILES files"
i=1
while [ $i -le "$FILES" ]; do
    kb=$(( (i * 37) % 64 + 1 ))
    dd if=/dev/urandom of=$D/$i bs=1024 count=$kb conv=fsync 2>/dev/null || fail "cannot write $D/$i"
    sync $D || fail "cannot fsync $D"
    sum=$(sha256sum $D/$i) || fail "cannot read $D/$i"
    echo "crash: durable $i ${sum%% *}"
    echo $i >$D/latest.tmp && sync $D/latest.tmp && mv $D/latest.tmp $D/latest && sync $D ||
        fail "cannot replace $D/latest"
    echo "crash: latest $i"
    i=$((i + 1))
done
echo "ARMVEX-TEST crash PASS"
