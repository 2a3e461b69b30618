#!/usr/bin/env bash
# berthd inside a local machine, driven by the docker CLI through the 127.0.0.1 engine
# forward over mutual TLS: containers run there (nested namespaces, overlayfs, cgroups),
# images and containers survive stop/start, berthd stops with the machine and comes back at
# boot. Needs root.
#
# `berth create -d local` provisions berthd over SSH like on any other host; `berth ssh`,
# `scp`, `provision`, `regenerate-certs` and `upgrade` work on the machine; a published TCP
# port and a published UDP port (python3 echo entered with nsenter) answer on the host's
# 127.0.0.1, and the UDP forward goes with its container; `rm` leaves nothing behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/local_env.sh"
command -v docker >/dev/null || fail "no docker CLI"

M=$STORE/machines/e1
export DOCKER_CONFIG=$T/docker-config

engine_up() { docker version >/dev/null 2>&1; }

$B create -d local e1 >"$T/create.log" 2>&1 || { cat "$T/create.log"; fail "create e1"; }
assert_contains "$(cat "$T/create.log")" "over mutual TLS"
eval "$($B env --shell bash e1)"
assert_eq "$DOCKER_HOST" "tcp://127.0.0.1:$($B inspect -f '{{.Driver.EngineForwardPort}}' e1)"
wait_for 20 "berthd in the machine to answer through the engine forward" engine_up
# ls asks the engine over the forward: its version, not "Unknown".
ls_line=$($B ls --format '{{.Name}} {{.State}} {{.DockerVersion}}')
assert_contains "$ls_line" "e1 Running v"

# A busybox image from Debian's busybox-static, then containers inside the machine.
img=$T/img
mkdir -p "$img/bin" "$img/etc" "$img/tmp"
cp /bin/busybox "$img/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$img/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$img/etc/passwd"
tar -C "$img" -c . | docker import --change 'CMD ["sh"]' - busybox:latest >/dev/null
assert_eq "$(docker run --rm busybox echo 'hello from a local machine')" "hello from a local machine"
# The container has its own pid namespace inside the machine's, and its own cgroup below the
# machine's cgroup view.
assert_eq "$(docker run --rm busybox sh -c 'echo $$')" 1
assert_contains "$(docker run --rm busybox cat /proc/self/cgroup)" ":/berth/"
docker run -d --name keeper busybox sleep 1000 >/dev/null
assert_eq "$(docker inspect -f '{{.State.Running}}' keeper)" true

# stop: berthd and its containers go down with the machine; start: berthd is back at boot
# (rcS), with the image and the container.
$B stop e1 >/dev/null 2>&1 || fail "stop e1"
assert_eq "$($B status e1)" Stopped
assert_contains "$(cat "$M/rootfs/var/log/berthd.log")" "started"
$B start e1 >/dev/null 2>&1 || fail "start e1"
wait_for 20 "berthd to come back with the machine" engine_up
assert_contains "$(docker images --format '{{.Repository}}:{{.Tag}}')" "busybox:latest"
assert_contains "$(docker ps -a --format '{{.Names}}')" keeper
docker start keeper >/dev/null
assert_eq "$(docker inspect -f '{{.State.Running}}' keeper)" true
assert_eq "$(docker run --rm busybox echo again)" again

# A named volume's data survives a restart of the machine.
docker volume create data >/dev/null || fail "volume create"
docker run --rm -v data:/data busybox sh -c 'echo kept > /data/f' || fail "write to the volume"
$B restart e1 >/dev/null 2>&1 || fail "restart e1"
wait_for 20 "berthd after restart" engine_up
assert_eq "$(docker run --rm -v data:/data busybox cat /data/f)" kept "named volume after restart"

# docker run -d -p: the machine's berthd publishes the port, the local driver forwards it to
# the host's 127.0.0.1 (the same number when it is free).
WEB=$(free_port)
docker run -d --name web -p "$WEB:80" busybox httpd -f -p 80 -h /etc >/dev/null ||
    fail "run -d -p $WEB:80"
assert_eq "$(docker port web 80)" "0.0.0.0:$WEB"
wait_for 10 "published port $WEB on the host's 127.0.0.1" curl -fsS "127.0.0.1:$WEB/passwd"
assert_contains "$(curl -fsS "127.0.0.1:$WEB/passwd")" "root:x:0:0"

# docker run -d -p PORT:53/udp: the supervisor forwards the UDP socket berthd's port proxy
# binds in the machine to the host's 127.0.0.1 and relays datagrams (a flow per client). The
# echo is python3 in the container's network namespace, entered from the host: berthd gives
# the container's pid in the machine's pid namespace, the host's is found through NSpid.
ID=$($B inspect -f '{{.Driver.MachineID}}' e1)
# A UDP port free on the host, outside the machine's ephemeral ports (32768-48999: UDP ports
# there are not forwarded).
UPORT=$(python3 -c '
import random, socket
for p in random.sample(range(20000, 30000), 200):
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass')
docker run -d --name udp -p "$UPORT:53/udp" busybox sleep 1000 >/dev/null ||
    fail "run -d -p $UPORT:53/udp"
assert_eq "$(docker port udp)" "53/udp -> 0.0.0.0:$UPORT"
mpid=$(docker inspect -f '{{.State.Pid}}' udp)
hpid=
for st in /proc/[0-9]*/status; do
    read -r _ h m _ < <(grep '^NSpid:' "$st" 2>/dev/null) || continue
    [ "${m:-}" = "$mpid" ] || continue
    d=${st%/status}
    grep -q "e1-$ID" "$d/cgroup" 2>/dev/null && hpid=$h && break
done
[ -n "$hpid" ] || fail "no host pid for the container's pid $mpid"
udp_echo_at "$hpid" 53 "the UDP echo in the container"
udp_forward() {
    grep -q "\"Proto\": \"udp\"" "$M/local/forwards.json" &&
        awk -v p=":$(printf '%04X' "$UPORT")" 'NR > 1 && $2 == "0100007F" p' /proc/net/udp | grep -q .
}
wait_for 10 "the UDP forward of $UPORT on the host's 127.0.0.1" udp_forward
assert_eq "$(udp_ask "$UPORT" hello)" "echo hello" "UDP through $UPORT"
assert_eq "$(udp_ask "$UPORT" second 0)" "echo second" "a second client"
big=$(head -c 6000 /dev/zero | tr '\0' x)
assert_eq "$(udp_ask "$UPORT" "$big")" "echo $big" "a 6000-byte datagram"
# Only the published socket is forwarded, not the supervisor's flows nor berthd's others.
assert_eq "$(grep -c '"udp"' "$M/local/forwards.json")" 1 "UDP forwards"
docker rm -f udp >/dev/null || fail "rm -f udp"
wait_for 10 "the UDP forward of $UPORT to go" sh -c "! grep -q '\"udp\"' '$M/local/forwards.json'"
udp_forward && fail "a host socket on 127.0.0.1:$UPORT/udp outlived the container"

# berth ssh, scp, provision, regenerate-certs and upgrade on a local machine.
rc=0
out=$($B ssh e1 sh -c 'echo out; echo err >&2; exit 7' 2>"$T/err") || rc=$?
assert_eq "$rc" 7 "berth ssh exit status"
assert_eq "$out" out
assert_eq "$(cat "$T/err")" err
echo "scp payload $$" >"$T/up.txt"
$B scp "$T/up.txt" e1:/tmp/up.txt || fail "scp to e1"
$B scp e1:/tmp/up.txt "$T/down.txt" || fail "scp from e1"
cmp "$T/up.txt" "$T/down.txt" || fail "scp round trip differs"
$B provision e1 >/dev/null 2>&1 || fail "provision e1"
wait_for 20 "berthd after provision" engine_up
serial=$(openssl x509 -in "$M/server.pem" -noout -serial)
$B regenerate-certs -f e1 >/dev/null 2>&1 || fail "regenerate-certs e1"
[ "$(openssl x509 -in "$M/server.pem" -noout -serial)" != "$serial" ] || fail "no new certificate"
wait_for 20 "berthd with the new certificate" engine_up
keeper_pid=$(docker inspect -f '{{.State.Pid}}' keeper)
$B upgrade e1 >/dev/null 2>&1 || fail "upgrade e1"
wait_for 20 "berthd after upgrade" engine_up
assert_eq "$(docker inspect -f '{{.State.Pid}}' keeper)" "$keeper_pid" "a container across upgrade"

$B rm -y e1 >/dev/null 2>&1 || fail "rm e1"
curl -fsS --max-time 2 "127.0.0.1:$WEB/passwd" >/dev/null 2>&1 && fail "the port forward outlived rm"
pgrep -f "$STORE" && fail "processes left that mention $STORE"
grep -h "$STORE" /proc/[0-9]*/mountinfo 2>/dev/null && fail "mounts left below $STORE"
find /sys/fs/cgroup -maxdepth 3 -name "e1-$ID" | grep . && fail "cgroups left"
echo "local engine: ok"
