#!/bin/sh
# net: the network card under user-mode networking (armvex or QEMU, -netdev user).
#   - eth0 has the DHCP address 10.0.2.15 (/sbin/init ran udhcpc);
#   - with armvex.net_url=URL and armvex.net_sha256=HASH: fetch URL with wget into /tmp (from
#     a server on the host: http://10.0.2.2:PORT/...), print "net: fetched" when the download
#     is complete (tools/bench-net times it to there), then check its SHA-256;
#   - with armvex.net_echo=PORT: serve one connection on PORT (the host reaches it through
#     hostfwd), echoing what the client sends; prints "net: serving on PORT" first;
#   - with armvex.net_ping=ADDR: ping ADDR three times (ICMP echo; user-mode networking
#     answers for its gateway 10.0.2.2 itself) and print ping's summary line.
# Last line: "ARMVEX-TEST net PASS" or "ARMVEX-TEST net FAIL (reason)".

fail() { echo "ARMVEX-TEST net FAIL ($*)"; exit 1; }
URL= SHA= ECHO= PING=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        armvex.net_url=*) URL=${arg#armvex.net_url=} ;;
        armvex.net_sha256=*) SHA=${arg#armvex.net_sha256=} ;;
        armvex.net_echo=*) ECHO=${arg#armvex.net_echo=} ;;
        armvex.net_ping=*) PING=${arg#armvex.net_ping=} ;;
    esac
done

[ -e /sys/class/net/eth0 ] || fail "no eth0"
echo "net: eth0 driver $(basename "$(readlink -f /sys/class/net/eth0/device/driver)"), mac $(cat /sys/class/net/eth0/address)"
addr=$(ip -4 addr show eth0 | awk '$1 == "inet" { print $2 }')
echo "net: eth0 address $addr"
[ "$addr" = 10.0.2.15/24 ] || fail "eth0 has address '$addr', not 10.0.2.15/24 from DHCP"
ip route | grep -q "^default via 10.0.2.2" || fail "no default route via 10.0.2.2"

if [ -n "$PING" ]; then
    out=$(ping -c 3 -W 5 "$PING" 2>&1) || fail "ping $PING failed: $(echo $out)"
    echo "net: ping $PING: $(echo "$out" | grep 'packets transmitted')"
fi

if [ -n "$URL" ]; then
    start=$(cut -d' ' -f1 /proc/uptime)
    wget -q -O /tmp/net.file "$URL" || fail "wget $URL failed"
    end=$(cut -d' ' -f1 /proc/uptime)
    echo "net: fetched $URL, $(wc -c </tmp/net.file) bytes ($start s to $end s of guest uptime)"
    got=$(sha256sum /tmp/net.file | cut -d' ' -f1)
    rm -f /tmp/net.file
    echo "net: sha256 $got"
    [ "$got" = "$SHA" ] || fail "sha256 of $URL is $got, expected $SHA"
fi

if [ -n "$ECHO" ]; then
    timeout 120 nc -l -p "$ECHO" -e /bin/cat &
    nc=$!
    # Say so only once nc listens (a client the host sends at once must find it there):
    # /proc/net/tcp or tcp6 (nc listens on IPv6's any address when it can) shows the port, in
    # hex, in state 0A (LISTEN).
    port=$(printf '%04X' "$ECHO")
    n=0
    until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qE ":$port 0+:0000 0A"; do
        n=$((n + 1))
        [ $n -le 100 ] || fail "nc -l -p $ECHO does not listen"
        sleep 0.1 2>/dev/null || sleep 1
    done
    echo "net: serving on $ECHO"
    wait $nc || fail "nc -l -p $ECHO failed"
    echo "net: served one client on $ECHO"
fi
echo "ARMVEX-TEST net PASS"
