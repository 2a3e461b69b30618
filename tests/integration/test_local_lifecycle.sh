#!/usr/bin/env bash
# The local driver's lifecycle against the real thing: create -> Running -> OpenSSH's client
# logs in (own pid, uts, net namespaces) -> a port the machine listens on is forwarded to the
# host -> stop -> Stopped -> start -> files persisted -> reboot and poweroff from inside ->
# killed processes and stale records read as Stopped -> kill, restart -> rm -y leaves no
# process, mount, cgroup or port behind. Needs root (namespaces, cgroups).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/local_env.sh"

# mssh NAME CMD: OpenSSH's client into the machine with its key and forwarded port.
mssh() {
    local name=$1
    shift
    ssh -i "$STORE/machines/$name/id_ecdsa" -p "$($B inspect -f '{{.Driver.SSHPort}}' "$name")" \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1 "$@"
}

# PID runs (a zombie waiting for the host's init to reap it does not count).
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status" 2>/dev/null; }
state_is() { [ "$($B status "$1" 2>/dev/null)" == "$2" ]; }
# Nothing listens on 127.0.0.1:PORT (TIME_WAIT leftovers of closed connections are fine).
port_free() {
    python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen()' "$1"
}
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }

M=$STORE/machines/m1
newkey m1
start=$(date +%s%N)
$B create -d local m1 >"$T/create.log" 2>&1 || { cat "$T/create.log"; fail "create m1"; }
echo "create took $((($(date +%s%N) - start) / 1000000)) ms"

# ls, inspect, ip, url.
assert_contains "$($B ls --format '{{.Name}} {{.DriverName}} {{.State}}')" "m1 local Running"
assert_eq "$($B ip m1)" 127.0.0.1
SSHPORT=$($B inspect -f '{{.Driver.SSHPort}}' m1)
ENGPORT=$($B inspect -f '{{.Driver.EngineForwardPort}}' m1)
assert_eq "$($B url m1)" "tcp://127.0.0.1:$ENGPORT"
assert_eq "$($B inspect -f '{{.Driver.SSHUser}}' m1)" root
assert_eq "$($B inspect -f '{{.Driver.SSHKeyPath}}' m1)" "$M/id_ecdsa"
[ -d "$M/rootfs/bin" ] || fail "no rootfs in $M"
ls "$STORE"/cache/machine-rootfs-*.tar.gz >/dev/null || fail "the image was not cached in $STORE/cache"
assert_contains "$($B inspect -f '{{.Driver.Image}}' m1)" "$STORE/cache/machine-rootfs-"

# SSH with OpenSSH's client: its own uts and pid namespace, busybox init as pid 1.
out=$(mssh m1 'uname -s; hostname; tr "\0" " " </proc/1/cmdline; echo; for n in pid net uts mnt; do readlink /proc/self/ns/$n; done')
assert_eq "$(sed -n 1p <<<"$out")" Linux
assert_eq "$(sed -n 2p <<<"$out")" m1
assert_contains "$(sed -n 3p <<<"$out")" init
for ns in pid net uts mnt; do
    inside=$(grep -m1 "^$ns:" <<<"$out" || true)
    host=$(readlink /proc/self/ns/$ns)
    [ "$inside" != "$host" ] || fail "the machine shares the host's $ns namespace ($host)"
done
assert_eq "$(mssh m1 'echo $$ > /tmp/pid; ps -o pid,comm | awk "\$2==\"init\"{print \$1}"')" 1
# The machine's cgroup is the root of its cgroup view, and it has its own processes.
assert_contains "$(mssh m1 'cat /proc/self/cgroup')" ":/init"
INIT=$(json_get "$M/local/state.json" '["Init"]["Pid"]')
SUP=$(json_get "$M/local/state.json" '["Supervisor"]["Pid"]')
alive "$INIT" && alive "$SUP" || fail "state.json names no live processes"
assert_contains "$(tr '\0' ' ' <"/proc/$SUP/cmdline")" "berth-local supervise $M"

# berth's own SSH client (libssh2) and SFTP, once core has them.
if $B help ssh >/dev/null 2>&1; then
    set +e
    out=$($B ssh m1 'echo out; echo err >&2; exit 7' 2>"$T/ssh.err")
    rc=$?
    set -e
    assert_eq "$rc" 7 "exit status of berth ssh"
    assert_eq "$out" out
    assert_eq "$(cat "$T/ssh.err")" err
    echo scp-data >"$T/scp-file"
    $B scp "$T/scp-file" m1:/root/scp-file >/dev/null 2>&1 || fail "berth scp to m1"
    assert_eq "$(mssh m1 cat /root/scp-file)" scp-data
else
    echo "PENDING core: berth ssh/scp"
fi

# A TCP port the machine listens on is forwarded to the same port on the host's 127.0.0.1.
WEB=$(free_port)
mssh m1 "mkdir -p /www && echo hello-from-m1 > /www/index.html && httpd -p $WEB -h /www"
wait_for 10 "port $WEB forwarded to the host" curl -fsS "127.0.0.1:$WEB/"
assert_eq "$(curl -fsS "127.0.0.1:$WEB/")" hello-from-m1
assert_contains "$(cat "$M/local/forwards.json")" "\"HostPort\": $WEB"
# 20 MB each way through the SSH forward arrive intact.
head -c 20000000 /dev/urandom >"$T/blob"
mssh m1 'cat > /root/blob' <"$T/blob"
assert_eq "$(mssh m1 'cat /root/blob' | sha256sum)" "$(sha256sum <"$T/blob")" "blob through the forward"
mssh m1 'killall httpd'
wait_for 10 "forward of port $WEB to go away" port_free "$WEB"

# stop: clean shutdown, Stopped, nothing running; start: the files are still there.
mssh m1 'echo persisted > /root/file'
$B stop m1 >/dev/null 2>&1 || fail "stop m1"
assert_eq "$($B ls --format '{{.Name}} {{.State}}')" "m1 Stopped"
! alive "$INIT" && ! alive "$SUP" || fail "processes left after stop"
port_free "$SSHPORT" || fail "SSH forward port $SSHPORT still bound after stop"
assert_contains "$(cat "$M/local/supervisor.log")" "ended by signal 2"
! grep -q Sanitizer "$M/local/supervisor.log" || fail "the supervisor: $(cat "$M/local/supervisor.log")"
$B start m1 >/dev/null 2>&1 || fail "start m1"
assert_eq "$($B status m1)" Running
assert_eq "$(mssh m1 'cat /root/file')" persisted
assert_eq "$($B inspect -f '{{.Driver.SSHPort}}' m1)" "$SSHPORT"

# Rebooting inside boots the machine again; powering off inside stops it.
mssh m1 'reboot' 2>/dev/null || true
wait_for 15 "the machine to boot again" grep -q "ended by signal 1" "$M/local/supervisor.log"
wait_for 15 "SSH after the reboot" mssh m1 true
assert_eq "$($B status m1)" Running
mssh m1 'poweroff' 2>/dev/null || true
wait_for 15 "the machine to power off" state_is m1 Stopped

# A killed supervisor takes the machine with it, and status says so at once.
$B start m1 >/dev/null 2>&1 || fail "start after poweroff"
SUP=$(json_get "$M/local/state.json" '["Supervisor"]["Pid"]')
INIT=$(json_get "$M/local/state.json" '["Init"]["Pid"]')
kill -9 "$SUP"
assert_eq "$($B status m1)" Stopped
wait_for 10 "the machine's init to die with its supervisor" eval '! alive $INIT'
# A killed machine init: the supervisor cleans up and exits.
$B start m1 >/dev/null 2>&1 || fail "start after SIGKILL"
INIT=$(json_get "$M/local/state.json" '["Init"]["Pid"]')
kill -9 "$INIT"
wait_for 10 "Stopped after the machine's init was killed" state_is m1 Stopped
[ ! -e "$M/local/state.json" ] || fail "state.json left after the machine died"

# Stale records: an earlier boot of the host, or a live process that is not our supervisor.
bg sleep 300
OTHER=$BG_PID
START=$(awk '{print $22}' "/proc/$OTHER/stat")
printf '{"BootID":"00000000-0000-0000-0000-000000000000","Phase":"running","Supervisor":{"Pid":%d,"Start":%s},"Init":{"Pid":%d,"Start":%s}}' \
    "$OTHER" "$START" "$OTHER" "$START" >"$M/local/state.json"
assert_eq "$($B status m1)" Stopped
BOOT=$(cat /proc/sys/kernel/random/boot_id)
printf '{"BootID":"%s","Phase":"running","Supervisor":{"Pid":%d,"Start":%s},"Init":{"Pid":%d,"Start":%s}}' \
    "$BOOT" "$OTHER" "$START" "$OTHER" "$START" >"$M/local/state.json"
assert_eq "$($B status m1)" Stopped
printf '{"BootID":"%s","Phase":"running","Supervisor":{"Pid":%d,"Start":1},"Init":{"Pid":%d,"Start":1}}' \
    "$BOOT" "$$" "$$" >"$M/local/state.json"
assert_eq "$($B status m1)" Stopped
$B start m1 >/dev/null 2>&1 || fail "start over a stale state.json"
alive "$OTHER" || fail "start signalled an unrelated process"
kill "$OTHER"

# kill and restart.
$B kill m1 >/dev/null 2>&1 || fail "kill m1"
assert_eq "$($B status m1)" Stopped
$B restart m1 >/dev/null 2>&1 || fail "restart m1"
assert_eq "$($B status m1)" Running
$B restart m1 >/dev/null 2>&1 || fail "restart a running m1"
assert_eq "$(mssh m1 'cat /root/file')" persisted

# A second machine with limits: its own ports, cgroup limits seen inside.
newkey m2
$B create -d local --local-cpus 1 --local-memory 256 m2 >"$T/create2.log" 2>&1 ||
    { cat "$T/create2.log"; fail "create m2"; }
[ "$($B inspect -f '{{.Driver.SSHPort}}' m2)" != "$SSHPORT" ] || fail "m2 got m1's SSH port"
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    assert_eq "$(mssh m2 'cat /sys/fs/cgroup/memory.max')" 268435456
    assert_eq "$(mssh m2 'cat /sys/fs/cgroup/cpu.max')" "100000 100000"
else
    assert_eq "$(mssh m2 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes')" 268435456
    assert_eq "$(mssh m2 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us')" 100000
fi
assert_eq "$($B ls -q | sort | tr '\n' ' ')" "m1 m2 "

# rm -y: no process, mount, cgroup, port or file left.
M1_ID=$($B inspect -f '{{.Driver.MachineID}}' m1)
M2_ID=$($B inspect -f '{{.Driver.MachineID}}' m2)
ENG2=$($B inspect -f '{{.Driver.EngineForwardPort}}' m2)
SSH2=$($B inspect -f '{{.Driver.SSHPort}}' m2)
$B rm -y m1 m2 >/dev/null 2>&1 || fail "rm m1 m2"
[ ! -e "$M" ] && [ ! -e "$STORE/machines/m2" ] || fail "machine directories left"
pgrep -f "$STORE" && fail "processes left that mention $STORE"
grep -h "$STORE" /proc/[0-9]*/mountinfo 2>/dev/null && fail "mounts left below $STORE"
find /sys/fs/cgroup -maxdepth 3 -name "m[12]-*" 2>/dev/null | grep -e "$M1_ID" -e "$M2_ID" &&
    fail "cgroups left"
for p in "$SSHPORT" "$ENGPORT" "$SSH2" "$ENG2"; do
    port_free "$p" || fail "port $p still bound after rm"
done
echo "local lifecycle: ok"
