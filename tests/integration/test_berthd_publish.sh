#!/usr/bin/env bash
# Published ports with the docker CLI, in a network namespace of the test's own (berthd and
# every client run in it, so no port of the machine is touched): TCP `-p` (all addresses and
# a HostIp), UDP `-p 5353:53/udp` (two clients, each with its flow), a host range
# `-p 8000-8010:80` (first free port, the next container the next one), `-P` with tcp and
# udp exposed ports (inside 49000-49900, `docker port` lists both), the `docker ps` Ports
# column, taken ports and bad specs failing clearly, stop/start and a killed and restarted
# berthd publishing again, and no host socket of berthd left after `rm -f`.
# The UDP service in a container: Debian's busybox nc has no -u and busybox has no UDP
# server applet, so a small python3 echo runs in the container's network namespace (nsenter
# --net), which is what the proxy talks to. Needs root, busybox-static, the docker CLI,
# python3, nsenter, curl.
OWN_NETNS=1 # berthd and every client run in a network namespace of the test's own
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

for tool in python3 nsenter curl; do
    command -v $tool >/dev/null || fail "$tool is missing"
done
export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null || fail "docker import"

# udp_echo_in NAME PORT: the echo on PORT in container NAME's network namespace.
udp_echo_in() {
    local pid
    pid=$(dk inspect -f '{{.State.Pid}}' "$1") || fail "inspect $1"
    udp_echo_at "$pid" "$2" "the UDP echo in $1"
    ECHO_PIDS+=("$BG_PID")
}
ECHO_PIDS=()

http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}
serves() {
    [ "$(http_code "$1")" = 200 ]
}

# Host sockets of this namespace: TCP listeners and UDP sockets on PORT (hex as in /proc/net).
host_sockets() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == "0A"' /proc/net/tcp
    awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p' /proc/net/udp
}

# --- TCP: all addresses and one host address ----------------------------------------------
dk run -d --name web -p 8080:80 -p 127.0.0.1:8081:80 busybox httpd -f -p 80 -h /bin \
    >/dev/null || fail "run web"
wait_for 20 "httpd through 8080" serves http://127.0.0.1:8080/busybox
serves http://127.0.0.1:8081/busybox || fail "httpd through 127.0.0.1:8081"
assert_eq "$(dk port web 80/tcp | sort | tr '\n' ' ')" "0.0.0.0:8080 127.0.0.1:8081 " \
    "docker port web 80/tcp"
assert_contains "$(awk 'NR > 1 && $4 == "0A" {print $2}' /proc/net/tcp | tr '\n' ' ')" \
    "0100007F:1F91" "8081 listens on 127.0.0.1 only"

# --- UDP ---------------------------------------------------------------------------------------
dk run -d --name udp -p 5353:53/udp busybox sleep 1000 >/dev/null || fail "run udp"
udp_echo_in udp 53
assert_eq "$(udp_ask 5353 hello)" "echo hello" "a UDP round trip through 5353"
assert_eq "$(udp_ask 5353 second 40001)" "echo second" "a second UDP client"
assert_eq "$(udp_ask 5353 third 40001)" "echo third" "the second client again (its flow)"
big=$(head -c 6000 /dev/zero | tr '\0' x)
assert_eq "$(udp_ask 5353 "$big")" "echo $big" "a 6000-byte datagram"
assert_eq "$(dk port udp)" "53/udp -> 0.0.0.0:5353" "docker port udp"
assert_eq "$(dk inspect -f '{{json .NetworkSettings.Ports}}' udp)" \
    '{"53/udp":[{"HostIp":"0.0.0.0","HostPort":"5353"}]}' "inspect's Ports"
assert_eq "$(dk ps --filter name=udp --format '{{.Ports}}')" "0.0.0.0:5353->53/udp" \
    "docker ps Ports"

# --- host ranges ---------------------------------------------------------------------------
dk run -d --name r1 -p 8000-8010:80 busybox httpd -f -p 80 -h /bin >/dev/null || fail "run r1"
dk run -d --name r2 -p 8000-8010:80 busybox httpd -f -p 80 -h /bin >/dev/null || fail "run r2"
assert_eq "$(dk port r1 80)" "0.0.0.0:8000" "r1 gets the first port of the range"
assert_eq "$(dk port r2 80)" "0.0.0.0:8001" "r2 gets the next one"
wait_for 20 "r2's httpd through 8001" serves http://127.0.0.1:8001/busybox
serves http://127.0.0.1:8000/busybox || fail "r1's httpd through 8000"

# --- -P with tcp and udp exposed ports ---------------------------------------------------------
dk run -d --name pa -P --expose 7000/udp --expose 7001 busybox sleep 1000 >/dev/null ||
    fail "run pa"
out=$(dk port pa | sort)
[[ "$out" =~ ^7000/udp\ -\>\ 0\.0\.0\.0:([0-9]+)$'\n'7001/tcp\ -\>\ 0\.0\.0\.0:([0-9]+)$ ]] ||
    fail "docker port pa: [$out]"
pu=${BASH_REMATCH[1]} pt=${BASH_REMATCH[2]}
for p in $pu $pt; do
    [ "$p" -ge 49000 ] && [ "$p" -le 49900 ] || fail "-P port $p is outside 49000-49900"
done
udp_echo_in pa 7000
assert_eq "$(udp_ask "$pu" via-P)" "echo via-P" "UDP through the -P port $pu"
out=$(dk ps --filter name=pa --format '{{.Ports}}')
assert_contains "$out" "0.0.0.0:$pu->7000/udp"
assert_contains "$out" "0.0.0.0:$pt->7001/tcp"

# --- taken ports and bad specs ---------------------------------------------------------------
expect_fail dk run -d --name clash -p 8080:80 busybox sleep 1000
assert_contains "$ERR" "Bind for 0.0.0.0:8080 failed: port is already allocated"
expect_fail dk run -d --name clash2 -p 5353:53/udp busybox sleep 1000
assert_contains "$ERR" "Bind for 0.0.0.0:5353/udp failed: port is already allocated"
python3 -c 'import socket,time,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",5400)); open(sys.argv[1],"w").close(); time.sleep(60)' \
    "$T/taken" &
TAKER=$!
_bg_pids+=("$TAKER")
wait_for 10 "a socket on udp 5400" test -e "$T/taken"
expect_fail dk run -d --name clash3 -p 5400:53/udp busybox sleep 1000
assert_contains "$ERR" "Bind for 0.0.0.0:5400/udp failed: port is already allocated"
expect_fail dk run -d --name clash4 -p 8080-8081:80 busybox sleep 1000
assert_contains "$ERR" "Bind for 0.0.0.0:8080-8081 failed: every port of the range is already allocated"
kill "$TAKER"
expect_fail dk run -d -p '[::]:8090:80' busybox sleep 1000
assert_contains "$ERR" "cannot publish 80/tcp on \"::\": ports are published on IPv4 addresses only"
code=$(ucurl -o "$T/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"80-x"}]}}}' \
    http://x/containers/create)
assert_eq "$code" 400 "create with HostPort 80-x"
assert_contains "$(cat "$T/resp")" 'invalid host port \"80-x\" for 80/tcp'
# The failed runs left created containers (as Docker does) and no socket.
for c in clash clash2 clash3 clash4; do
    assert_eq "$(dk inspect -f '{{.State.Status}}' $c)" created "state of $c"
done
dk rm clash clash2 clash3 clash4 >/dev/null || fail "rm the clashes"

# --- stop, start and a berthd restart publish again ------------------------------------------
dk stop -t 1 r1 >/dev/null || fail "stop r1"
[ -z "$(host_sockets 8000)" ] || fail "a stopped container still listens on 8000"
dk start r1 >/dev/null || fail "start r1"
assert_eq "$(dk port r1 80)" "0.0.0.0:8000" "r1's port after start"
wait_for 20 "r1's httpd through 8000 after start" serves http://127.0.0.1:8000/busybox

# SIGKILL, as test_berthd_restart does: a SIGTERM'd berthd still has the `docker run -d`
# wait requests of running containers open, which ASan builds report at exit (not a port
# matter). Its host sockets die with it.
kill -KILL "$BERTHD_PID"
wait_for 15 "berthd to die" exited "$BERTHD_PID"
wait "$BERTHD_PID" 2>/dev/null || true
BERTHD_PID=
udp_ask 5353 nobody >/dev/null 2>&1 && fail "UDP answered with berthd down"
start_berthd
assert_eq "$(udp_ask 5353 back)" "echo back" "UDP through 5353 after a berthd restart"
assert_eq "$(dk port udp)" "53/udp -> 0.0.0.0:5353" "docker port udp after the restart"
serves http://127.0.0.1:8001/busybox || fail "r2's httpd after the restart"

# --- rm -f leaves no socket behind ----------------------------------------------------------
for p in "${ECHO_PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
done
dk rm -f web udp r1 r2 pa >/dev/null || fail "rm -f"
left=$(awk 'NR > 1 && $4 == "0A"' /proc/net/tcp; awk 'NR > 1' /proc/net/udp)
[ -z "$left" ] || fail "sockets left after rm -f: $left"
finish
echo "PASS test_berthd_publish"
