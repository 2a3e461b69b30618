#!/usr/bin/env bash
# berthd inside a local machine, driven by the docker CLI through the 127.0.0.1 engine
# forward over mutual TLS: containers run there (nested namespaces, overlayfs, cgroups),
# images and containers survive stop/start, berthd stops with the machine and comes back at
# boot. Needs root.
#
# Until core's provisioning (`berth provision`) lands, this test installs berthd into the
# machine itself the way the provisioner will: the binary and its libraries, the machine's
# certificates in /etc/berth, and a busybox-init service script /etc/init.d/S50berthd.
# PENDING parts (printed as such): named volumes (berthd volumes) and `run -p` + curl from
# the host (berthd port publishing).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || fail "the local driver needs root"
[ -f "$TOP/build/lib/berth/machine-rootfs.tar.gz" ] || fail "no machine image: run make"
command -v docker >/dev/null || fail "no docker CLI"

B=$BERTH
STORE=$BERTH_STORAGE_PATH
M=$STORE/machines/e1
export DOCKER_CONFIG=$T/docker-config

_local_cleanup() {
    local rc=$?
    set +e
    for m in $($B ls -q 2>/dev/null); do $B rm -f "$m" >/dev/null 2>&1; done
    (exit $rc)
    _cleanup
}
trap _local_cleanup EXIT

mssh() {
    ssh -i "$M/id_ecdsa" -p "$($B inspect -f '{{.Driver.SSHPort}}' e1)" \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 "$@"
}

has_provision() { $B provision --help >/dev/null 2>&1; }

# The stand-in provisioner: what berth provision does on a busybox-init machine.
sideload_berthd() {
    local root=$M/rootfs lib
    install -D -m 0755 "$BERTHD" "$root/usr/local/bin/berthd"
    for lib in $(ldd "$BERTHD" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p'); do
        [ -e "$root$lib" ] || install -D -m 0644 "$(readlink -f "$lib")" "$root$lib"
    done
    install -d -m 0700 "$root/etc/berth"
    install -m 0644 "$M/ca.pem" "$M/server.pem" "$root/etc/berth/"
    install -m 0600 "$M/server-key.pem" "$root/etc/berth/"
    cat >"$root/etc/init.d/S50berthd" <<'EOF'
#!/bin/sh
# berthd: started by rcS at boot, stopped by rcK at shutdown (busybox init).
PIDFILE=/run/berth/berthd.pid
case "$1" in
start)
    mkdir -p /run/berth /var/log
    setsid /usr/local/bin/berthd daemon -H unix:///run/berth/berthd.sock \
        -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /etc/berth/ca.pem \
        --tlscert /etc/berth/server.pem --tlskey /etc/berth/server-key.pem \
        --pidfile $PIDFILE </dev/null >>/var/log/berthd.log 2>&1 &
    ;;
stop)
    [ -f $PIDFILE ] || exit 0
    pid=$(cat $PIDFILE)
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
EOF
    chmod 0755 "$root/etc/init.d/S50berthd"
    mssh /etc/init.d/S50berthd start
}

engine_up() { docker version >/dev/null 2>&1; }

mkdir -p "$M"
ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C berth-test -f "$M/id_ecdsa"
$B create -d local e1 >"$T/create.log" 2>&1 || { cat "$T/create.log"; fail "create e1"; }
if has_provision; then
    echo "berth provision exists: create provisioned berthd"
else
    echo "PENDING core provisioning: installing berthd into the machine by hand"
    sideload_berthd
fi
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

# Waiting for berthd: named volumes, and published ports forwarded to the host.
if docker volume create data >/dev/null 2>&1; then
    docker run --rm -v data:/data busybox sh -c 'echo kept > /data/f'
    $B restart e1 >/dev/null 2>&1 || fail "restart e1"
    wait_for 20 "berthd after restart" engine_up
    assert_eq "$(docker run --rm -v data:/data busybox cat /data/f)" kept
else
    echo "PENDING berthd volumes: named volume persistence not tested"
fi
WEB=$(free_port)
if docker run -d --name web -p "$WEB:80" busybox httpd -f -p 80 -h /etc >/dev/null 2>&1 &&
    [ -n "$(docker port web 2>/dev/null)" ]; then
    wait_for 10 "published port $WEB on the host's 127.0.0.1" curl -fsS "127.0.0.1:$WEB/passwd"
    assert_contains "$(curl -fsS "127.0.0.1:$WEB/passwd")" "root:x:0:0"
else
    echo "PENDING berthd port publishing: run -p + curl from the host not tested"
fi

ID=$($B inspect -f '{{.Driver.MachineID}}' e1)
$B rm -y e1 >/dev/null 2>&1 || fail "rm e1"
pgrep -f "$STORE" && fail "processes left that mention $STORE"
grep -h "$STORE" /proc/[0-9]*/mountinfo 2>/dev/null && fail "mounts left below $STORE"
find /sys/fs/cgroup -maxdepth 3 -name "e1-$ID" | grep . && fail "cgroups left"
echo "local engine: ok"
