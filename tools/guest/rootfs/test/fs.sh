#!/bin/sh
# fs: ext4 on virtio-blk, end to end, across boots.
#
# Read-write root (kernel command line `rw`, the default):
#   1. if a previous boot left its files in /data, check them (read cold from the disk),
#      else say "first boot";
#   2. write /data/pattern.bin (1 MiB; `seq -w 0 8 1048568`: every 8-byte line holds its
#      own byte offset in decimal, so each sector differs and a misplaced one shows) and
#      /data/note.txt, sync, drop the page cache, read both back and check their SHA-256;
#   3. count the boot in /data/boots.
# Read-only root (`ro`): check that / is mounted read-only, that creating a file fails,
# that a write-protected disk (/sys/block/vda/ro = 1) refuses a remount read-write, and
# that the files of a previous read-write boot (if any) read back correctly.
# Last line: "ARMVEX-TEST fs PASS" or "ARMVEX-TEST fs FAIL (reason)".

PATTERN_SHA256=9ba9021fcbace935a5900fd48e98302e9c48cb6e51db2bc05c6f211b931adb0c
NOTE_SHA256=b675be36a5fe4f39314c34552112230e391d3d4797d234fd38ae2eec893d2c02
D=/data

fail() { echo "ARMVEX-TEST fs FAIL ($*)"; exit 1; }
pattern() { seq -w 0 8 1048568; }
note() { printf 'armvex fs test\nThe quick brown fox jumps over the lazy dog.\n'; }
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches || fail "cannot drop caches"; }
check() { # check FILE EXPECTED_SHA256 WHAT
    sum=$(sha256sum "$1" | cut -d' ' -f1) || fail "cannot read $1"
    echo "fs: $sum  $1"
    [ "$sum" = "$2" ] || fail "$3 $1 has SHA-256 $sum, expected $2"
}

want=rw
for arg in $(cat /proc/cmdline); do
    case "$arg" in ro|rw) want=$arg ;; esac
done
dev=$(awk '$2 == "/" { d = $1 } END { print d }' /proc/mounts)
mode=$(awk '$2 == "/" { m = $4 } END { sub(/,.*/, "", m); print m }' /proc/mounts)
devro=$(cat "/sys/class/block/${dev#/dev/}/ro" 2>/dev/null || echo "?")
echo "fs: root $dev mounted $mode (command line: $want, device read-only: $devro)"
[ "$mode" = "$want" ] || fail "root is mounted $mode but the command line says $want"

if [ -f $D/boots ]; then
    boots=$(cat $D/boots)
    echo "fs: files from a previous boot (boots so far: $boots):"
    check $D/pattern.bin $PATTERN_SHA256 "previous boot's"
    check $D/note.txt $NOTE_SHA256 "previous boot's"
else
    boots=0
    echo "fs: first boot"
fi

if [ "$mode" = ro ]; then
    if err=$( (: >$D/ro-probe) 2>&1); then
        rm -f $D/ro-probe
        fail "creating $D/ro-probe succeeded on a read-only root"
    fi
    echo "fs: creating a file fails as it should: ${err##*: }"
    if [ "$devro" = 1 ]; then
        if err=$(mount -o remount,rw / 2>&1); then
            mount -o remount,ro /
            fail "remounting a write-protected disk read-write succeeded"
        fi
        echo "fs: remount read-write refused as it should: ${err##*: }"
    fi
    drop_caches
    if [ "$boots" != 0 ]; then
        check $D/pattern.bin $PATTERN_SHA256 "after dropping caches,"
    fi
    echo "ARMVEX-TEST fs PASS"
    exit 0
fi

pattern >$D/pattern.bin || fail "cannot write $D/pattern.bin"
note >$D/note.txt || fail "cannot write $D/note.txt"
size=$(wc -c <$D/pattern.bin)
[ "$size" = 1048576 ] || fail "$D/pattern.bin is $size bytes, expected 1048576"
drop_caches
echo "fs: wrote $D/pattern.bin and $D/note.txt, synced, dropped caches; reading back:"
check $D/pattern.bin $PATTERN_SHA256 "written"
check $D/note.txt $NOTE_SHA256 "written"
echo $((boots + 1)) >$D/boots && sync || fail "cannot write $D/boots"
echo "fs: this was boot $((boots + 1))"
echo "ARMVEX-TEST fs PASS"
