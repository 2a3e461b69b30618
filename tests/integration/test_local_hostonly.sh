#!/usr/bin/env bash
# `berth create -d local --local-network hostonly`: machines on the host-only bridge
# berth-host0 (192.168.99.1/24) with addresses of their own (.100, .101) and no forwards.
# The engine answers over mutual TLS at the machine's address, SSH goes to ADDR:22, a port
# published by `docker run -p` answers at ADDR:PORT, addresses survive stop/start, and rm of
# the last machine takes the bridge with it. Runs in a network and mount namespace of its
# own, so the bridge never appears on the host. Needs root.
OWN_NETNS=1
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/local_env.sh"
command -v docker >/dev/null || fail "no docker CLI"

export DOCKER_CONFIG=$T/docker-config

engine_up() { docker version >/dev/null 2>&1; }
links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' '; }

# Flag errors leave nothing behind.
expect_fail $B create -d local --local-network bogus x1
assert_contains "$ERR" "--local-network bogus"
expect_fail $B create -d local --local-network hostonly --local-ssh-port 2222 x2
assert_contains "$ERR" "no forwards"
[ -z "$($B ls -q)" ] || fail "a refused create left a machine"

$B create -d local --local-network hostonly h1 >"$T/create1.log" 2>&1 ||
    { cat "$T/create1.log"; fail "create h1"; }
assert_contains "$(cat "$T/create1.log")" "over mutual TLS"
assert_eq "$($B ip h1)" 192.168.99.100
assert_eq "$($B url h1)" tcp://192.168.99.100:2376
assert_eq "$($B inspect -f '{{.Driver.Network}} {{.Driver.HostOnlyAddress}}' h1)" \
    "hostonly 192.168.99.100"
# The bridge holds the host's address; the machine's end is a port of it.
ip -4 -o addr show dev berth-host0 | grep -c "192.168.99.1/24" >/dev/null || fail "no 192.168.99.1/24 on berth-host0"
ports() { ip -o link show master berth-host0 | wc -l; }
assert_eq "$(ports)" 1 "ports of berth-host0"
# The server certificate names the address; no forward listens on 127.0.0.1.
openssl x509 -in "$STORE/machines/h1/server.pem" -noout -text | grep -c "IP Address:192.168.99.100" >/dev/null ||
    fail "the server certificate lacks 192.168.99.100"
ss -Hltn | grep -c "127.0.0.1:" >/dev/null && fail "a 127.0.0.1 listener on the host: $(ss -Hltn)"

eval "$($B env --shell bash h1)"
assert_eq "$DOCKER_HOST" tcp://192.168.99.100:2376
wait_for 20 "berthd in h1 to answer at 192.168.99.100:2376" engine_up
docker version --format '{{.Server.Version}}' >/dev/null || fail "docker version over TLS"
assert_eq "$($B ssh h1 hostname)" h1
# Host-only: inside, eth0 has the address and there is no default route.
assert_contains "$($B ssh h1 ip -4 addr show eth0)" "192.168.99.100/24"
r=$($B ssh h1 ip route 2>&1) || fail "ip route in h1: $r"
assert_contains "$r" "192.168.99.0/24 dev eth0"
case "$r" in *default*) fail "h1 has a default route: $r" ;; esac

$B create -d local --local-network hostonly h2 >"$T/create2.log" 2>&1 ||
    { cat "$T/create2.log"; fail "create h2"; }
assert_eq "$($B ip h2)" 192.168.99.101
eval "$($B env --shell bash h2)"
assert_eq "$DOCKER_HOST" tcp://192.168.99.101:2376
wait_for 20 "berthd in h2" engine_up

# A busybox image from Debian's busybox-static; its httpd published with -p answers at the
# machine's address.
img=$T/img
mkdir -p "$img/bin" "$img/etc" "$img/tmp"
cp /bin/busybox "$img/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$img/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$img/etc/passwd"
tar -C "$img" -c . | docker import --change 'CMD ["sh"]' - busybox:latest >/dev/null
docker run -d --name web -p 8080:80 busybox httpd -f -p 80 -h /etc >/dev/null || fail "run -p 8080:80"
wait_for 10 "192.168.99.101:8080" curl -fsS --max-time 2 192.168.99.101:8080/passwd
assert_contains "$(curl -fsS 192.168.99.101:8080/passwd)" "root:x:0:0"
[ -f "$STORE/machines/h2/local/forwards.json" ] && grep -q 8080 "$STORE/machines/h2/local/forwards.json" &&
    fail "a hostonly machine got a forward"

# stop/start keep the address; the engine and SSH come back there.
$B stop h1 >/dev/null 2>&1 || fail "stop h1"
assert_eq "$($B status h1)" Stopped
assert_eq "$(ports)" 1 "ports of berth-host0 after stop h1 (its veth goes with it)"
$B start h1 >/dev/null 2>&1 || fail "start h1"
assert_eq "$($B ip h1)" 192.168.99.100
assert_eq "$($B ssh h1 hostname)" h1
eval "$($B env --shell bash h1)"
wait_for 20 "berthd in h1 after start" engine_up
$B restart h2 >/dev/null 2>&1 || fail "restart h2"
assert_eq "$($B ip h2)" 192.168.99.101
eval "$($B env --shell bash h2)"
wait_for 20 "berthd in h2 after restart" engine_up
docker start web >/dev/null || fail "start web"
wait_for 10 "192.168.99.101:8080 after restart" curl -fsS --max-time 2 192.168.99.101:8080/passwd

# rm: the bridge stays while h2 is on it.
$B rm -y h1 >/dev/null 2>&1 || fail "rm h1"
ip link show berth-host0 >/dev/null 2>&1 || fail "the bridge went while h2 uses it"

# Concurrent creates never pick the same address; h1's is free again.
$B create -d local --local-network hostonly c3 >"$T/c3.log" 2>&1 &
p3=$!
$B create -d local --local-network hostonly c4 >"$T/c4.log" 2>&1 &
p4=$!
wait $p3 || { cat "$T/c3.log"; fail "create c3"; }
wait $p4 || { cat "$T/c4.log"; fail "create c4"; }
assert_eq "$( ($B ip c3; $B ip c4) | sort | tr '\n' ' ')" "192.168.99.100 192.168.99.102 " \
    "addresses of concurrent creates"
assert_eq "$(ports)" 3 "ports of berth-host0"

# rm of the last machine takes the bridge.
for m in h2 c3 c4; do $B rm -y $m >/dev/null 2>&1 || fail "rm $m"; done
assert_eq "$(links)" "lo " "interfaces after rm"
pgrep -f "$STORE" && fail "processes left that mention $STORE"
grep -h "$STORE" /proc/[0-9]*/mountinfo 2>/dev/null && fail "mounts left below $STORE"
find /sys/fs/cgroup -maxdepth 3 -name "[hc][1-5]-*" | grep . && fail "cgroups left"

# When 192.168.99.0/24 is the host's on another interface, the next free /24 is used.
ip link add bt-other0 type veth peer name bt-other1
ip addr add 192.168.99.5/24 dev bt-other0
$B create -d local --local-network hostonly h5 >"$T/create5.log" 2>&1 ||
    { cat "$T/create5.log"; fail "create h5"; }
assert_eq "$($B ip h5)" 192.168.100.100
ip -4 -o addr show dev berth-host0 | grep -c "192.168.100.1/24" >/dev/null || fail "no 192.168.100.1/24 on berth-host0"
assert_eq "$($B ssh h5 hostname)" h5
$B rm -y h5 >/dev/null 2>&1 || fail "rm h5"
ip link del bt-other0
assert_eq "$(links)" "lo " "interfaces after rm h5"
echo "local hostonly: ok"
