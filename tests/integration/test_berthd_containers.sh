#!/usr/bin/env bash
# berthd's engine core with the docker CLI over the unix socket: the everyday commands
# (cli_core_flow: run, -d, -it on a real terminal, ps, logs, exec, stop, start, attach,
# start -a, exit codes, inspect, save/load, rmi), then what a container is allowed and sees:
# top, pause/unpause, memory and pids limits, hostname and PID namespaces, restart policies,
# rename, wait, kill -s, --read-only, --cap-drop, --privileged, seccomp, log rotation. At the
# end no container, shim, mount or cgroup of the test is left. Needs root, busybox-static,
# tmux and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

export DOCKER_HOST=unix://$SOCK
start_berthd

cli_core_flow unix

# The pid of a running container's first process on the host.
ctr_pid() {
    dk inspect -f '{{.State.Pid}}' "$1"
}

# A container that fails during its setup reports why, every time (-u: a user the image does
# not have), and docker run exits 125.
for i in 1 2 3 4 5 6 7 8 9 10; do
    rc=0
    dk run --rm -u bogus busybox true 2>"$T/err" || rc=$?
    assert_eq "$rc" 125 "exit code of a container that cannot be set up, try $i"
    assert_contains "$(cat "$T/err")" "unable to find user bogus: no matching entries in passwd file"
done
assert_eq "$(dk run --rm -u nobody busybox id -u)" 65534 "-u nobody"

# --- top, pause/unpause -------------------------------------------------------------------

P1_ID=$(dk run -d --name p1 busybox sh -c \
    'i=0; while true; do echo n $i; i=$((i+1)); sleep 0.1; done') || fail "run p1: $P1_ID"
P1_PID=$(ctr_pid p1)
TOP=$(dk top p1) || fail "docker top: $TOP"
assert_contains "$TOP" "PID"
assert_contains "$(echo "$TOP" | awk -v p="$P1_PID" '$2 == p')" "while true" "top lists the shell"
assert_contains "$TOP" "sleep 0.1"
# rmi by name needs force while any container uses the image; by ID a running one forbids it.
expect_fail dk rmi busybox
assert_contains "$ERR" "conflict: unable to remove repository reference \"busybox\" (must force)"
IMG_ID=$(dk image inspect -f '{{.Id}}' busybox)
expect_fail dk rmi -f "$IMG_ID"
assert_contains "$ERR" "(cannot be forced) - image is being used by running container ${P1_ID:0:12}"

last_n() {
    dk logs p1 2>/dev/null | tail -n 1 | sed -n 's/^n //p'
}
_logged_past() { [ "$(last_n)" -ge "$1" ]; }
wait_for 20 "p1 to count to 3" _logged_past 3
dk pause p1 >/dev/null || fail "docker pause"
assert_contains "$(dk ps --format '{{.Names}} {{.Status}}')" "p1 Up" "ps of a paused container"
assert_contains "$(dk ps --format '{{.Names}} {{.Status}}')" "(Paused)"
assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.Paused}}' p1)" "paused true" "paused state"
# A line written just before the freeze may still be on its way to the log: let it settle.
N1=$(last_n)
deadline=$((SECONDS + 10))
while sleep 0.3 && [ "$(last_n)" != "$N1" ]; do
    [ $SECONDS -lt $deadline ] || fail "a paused container's counter keeps moving"
    N1=$(last_n)
done
# A running counter advances every 0.1 s: a second of silence proves it is frozen.
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    [ "$(last_n)" = "$N1" ] || fail "a paused container's counter moved from $N1 to $(last_n)"
    sleep 0.1
done
expect_fail dk exec p1 true
dk unpause p1 >/dev/null || fail "docker unpause"
wait_for 20 "p1 to count again after unpause" _logged_past $((N1 + 2))
assert_eq "$(dk inspect -f '{{.State.Status}}' p1)" running "state after unpause"
# A paused container is removed with rm -f all the same.
dk pause p1 >/dev/null || fail "pause p1 again"
dk rm -f p1 >/dev/null || fail "rm -f of a paused container"
exited "$P1_PID" || fail "p1's process $P1_PID survived rm -f"

# --- resources: memory, pids ----------------------------------------------------------------

rc=0
dk run --name oom -m 32m busybox sh -c \
    'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived' >"$T/oom.out" 2>&1 || rc=$?
assert_eq "$rc" 137 "exit code of a container over its memory limit"
[ "$(cat "$T/oom.out")" != survived ] || fail "the memory limit was not enforced"
assert_eq "$(dk inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}' oom)" \
    "true 137 33554432" "inspect of an OOM-killed container"
dk rm oom >/dev/null || fail "rm oom"
assert_eq "$(dk run --rm -m 32m busybox sh -c 'x=$(head -c 1000000 /dev/zero | tr "\0" a); echo ${#x}')" \
    1000000 "a container within its memory limit"

rc=0
OUT=$(dk run --rm --pids-limit 8 busybox sh -c \
    'for i in $(seq 20); do sleep 5 & done; echo forked-all' 2>&1) || rc=$?
assert_contains "$OUT" "can't fork" "--pids-limit 8"
case "$OUT" in *forked-all*) fail "20 processes forked under --pids-limit 8" ;; esac
assert_eq "$(dk run --rm --pids-limit 8 busybox sh -c 'sleep 1 & sleep 1 & echo two')" two \
    "a container within its pids limit"

# --- isolation: hostname, PID namespace -----------------------------------------------------

assert_eq "$(dk run --rm --hostname foo busybox hostname)" foo "--hostname"
ID=$(dk run -d busybox sleep 30) || fail "run for the default hostname: $ID"
assert_eq "$(dk exec "$ID" hostname)" "${ID:0:12}" "default hostname is the short id"
assert_eq "$(dk exec "$ID" cat /etc/hostname)" "${ID:0:12}" "/etc/hostname"
dk rm -f "$ID" >/dev/null || fail "rm the hostname container"
[ "$(hostname)" != foo ] || fail "the host's name changed"

assert_eq "$(dk run --rm busybox sh -c 'echo $$')" 1 "the container's first process is PID 1"
PS=$(dk run --rm busybox ps -o pid,comm) || fail "ps in a container: $PS"
assert_eq "$(echo "$PS" | sed 1d | awk '{print $1}' | tr '\n' ' ')" "1 " "ps sees only itself"
case "$PS" in *berthd* | *bash* | *tmux*) fail "a host process is visible: $PS" ;; esac
N=$(dk run --rm busybox sh -c "ls /proc | grep -c '^[0-9]'")
[ "$N" -le 3 ] || fail "the container sees $N processes in /proc"
dk run --rm busybox sh -c "kill -0 $BERTHD_PID" 2>/dev/null &&
    fail "the container can signal pid $BERTHD_PID"

# --- restart policies -------------------------------------------------------------------------

dk run -d --name rf --restart on-failure:2 busybox sh -c 'echo attempt; exit 1' >/dev/null ||
    fail "run --restart on-failure:2"
_rf_done() { [ "$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' rf)" = "exited 2" ]; }
wait_for 30 "rf to exit after 2 restarts" _rf_done
assert_eq "$(dk logs rf | grep -c attempt)" 3 "on-failure:2 ran the command 3 times"
assert_eq "$(dk inspect -f '{{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' rf)" \
    "1 on-failure 2" "the on-failure container's record"
# ... and it stays down: a restart would make its log grow.
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    assert_eq "$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' rf)" "exited 2" "rf stays exited"
    sleep 0.1
done
dk rm rf >/dev/null || fail "rm rf"

dk run -d --name ra --restart always busybox sh -c 'echo run; sleep 0.2' >/dev/null ||
    fail "run --restart always"
_ra_restarted() { [ "$(dk inspect -f '{{.RestartCount}}' ra)" -ge 2 ]; }
wait_for 30 "ra to be restarted twice" _ra_restarted
dk stop -t 2 ra >/dev/null || fail "docker stop ra"
STOPPED=$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' ra)
assert_eq "${STOPPED%% *}" exited "--restart always stops for docker stop"
RUNS=$(dk logs ra | grep -c run)
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    assert_eq "$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' ra)" "$STOPPED" \
        "a stopped always-restart container stays down"
    sleep 0.1
done
assert_eq "$(dk logs ra | grep -c run)" "$RUNS" "no run after docker stop"
dk rm ra >/dev/null || fail "rm ra"

# docker restart of a container with a policy: one run at a time, no policy restart counted.
RX=$(dk run -d --name rx --restart always busybox sh -c \
    'trap "exit 0" TERM; while true; do sleep 0.1; done') || fail "run rx: $RX"
for i in 1 2 3 4 5; do
    dk restart -t 2 rx >/dev/null || fail "docker restart rx ($i)"
done
_one_rx() { [ "$(pgrep -f -- "shim --sync-fd [0-9]+ $T/exec/containers/$RX" | wc -l)" = 1 ]; }
wait_for 20 "one shim for rx" _one_rx
assert_eq "$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' rx)" "running 0" \
    "docker restart is not a policy restart"
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    _one_rx || fail "rx runs more than once: $(pgrep -af -- "shim --sync-fd [0-9]+ $T/")"
    sleep 0.1
done
dk rm -f rx >/dev/null || fail "rm rx"

# A command that exits at once keeps the policy restarting it: stop, kill and rm -f must end
# it for good even when they land between an exit and its restart.
for i in 1 2 3 4 5 6; do
    dk run -d --name rs$i --restart always busybox true >/dev/null || fail "run rs$i"
done
dk stop -t 1 rs1 rs2 rs3 >/dev/null || fail "docker stop rs1 rs2 rs3"
dk kill rs4 >/dev/null 2>&1 || true # (it may be between two runs: then it is not running)
dk stop -t 1 rs4 >/dev/null || fail "docker stop rs4"
dk rm -f rs5 rs6 >/dev/null || fail "docker rm -f rs5 rs6"
_all_down() {
    [ "$(dk ps -a --filter name=rs --format '{{.State}}' | sort -u)" = exited ]
}
wait_for 20 "rs1..rs4 to be down" _all_down
COUNTS=$(dk inspect -f '{{.RestartCount}}' rs1 rs2 rs3 rs4)
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    _all_down || fail "a stopped always-restart container came back: $(dk ps -a --filter name=rs)"
    sleep 0.1
done
assert_eq "$(dk inspect -f '{{.RestartCount}}' rs1 rs2 rs3 rs4)" "$COUNTS" "no restart after stop"
expect_fail dk inspect rs5
dk rm rs1 rs2 rs3 rs4 >/dev/null || fail "rm rs1..rs4"
# docker kill counts as a stop by hand: the policy does not bring the container back.
dk run -d --name rk --restart always busybox sleep 100 >/dev/null || fail "run rk"
dk kill rk >/dev/null || fail "docker kill rk"
_rk_down() { [ "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' rk)" = "exited 137" ]; }
wait_for 20 "rk to be killed" _rk_down
deadline=$((SECONDS + 1))
while [ $SECONDS -le $deadline ]; do
    _rk_down || fail "docker kill did not stop a --restart always container for good"
    sleep 0.1
done
assert_eq "$(dk inspect -f '{{.RestartCount}}' rk)" 0 "no restart after docker kill"
dk rm rk >/dev/null || fail "rm rk"

# --- rename, wait, kill -s ------------------------------------------------------------------

dk run -d --name k1 busybox sh -c \
    'trap "echo got-usr1" USR1; trap "exit 42" TERM; while true; do sleep 0.1; done' >/dev/null ||
    fail "run k1"
dk rename k1 k2 || fail "docker rename"
assert_eq "$(dk ps --format '{{.Names}}')" k2 "ps after rename"
assert_eq "$(dk inspect -f '{{.Name}}' k2)" /k2 "inspect after rename"
expect_fail dk inspect k1
dk run -d --name k3 busybox sleep 30 >/dev/null || fail "run k3"
expect_fail dk rename k3 k2
assert_contains "$ERR" "already in use"
dk rm -f k3 >/dev/null
dk kill -s USR1 k2 >/dev/null || fail "docker kill -s USR1"
_got_usr1() { dk logs k2 | grep got-usr1 >/dev/null; }
wait_for 20 "k2 to handle USR1" _got_usr1
assert_eq "$(dk inspect -f '{{.State.Status}}' k2)" running "USR1 did not stop k2"
dk wait k2 >"$T/wait.out" 2>&1 &
WAITER=$!
dk kill -s TERM k2 >/dev/null || fail "docker kill -s TERM"
wait_for 20 "docker wait to return" exited "$WAITER"
wait "$WAITER" || fail "docker wait failed: $(cat "$T/wait.out")"
assert_eq "$(cat "$T/wait.out")" 42 "docker wait prints the exit code"
expect_fail dk kill k2
assert_contains "$ERR" "is not running"
dk rm k2 >/dev/null || fail "rm k2"

# --- security: read-only root, capabilities, seccomp -------------------------------------------

expect_fail dk run --rm --read-only busybox touch /x
assert_contains "$ERR" "Read-only file system"
assert_eq "$(dk run --rm --read-only busybox sh -c 'echo ok >/dev/null && echo fine')" fine \
    "--read-only still has /dev"
dk run --rm busybox sh -c 'touch /x && chown 1 /x' || fail "a default container cannot chown"
expect_fail dk run --rm --cap-drop ALL busybox sh -c 'touch /x && chown 1 /x'
assert_contains "$ERR" "Operation not permitted"
assert_eq "$(dk run --rm --cap-drop ALL busybox sh -c 'grep CapEff /proc/self/status')" \
    "CapEff:	0000000000000000" "--cap-drop ALL"
assert_eq "$(dk run --rm busybox sh -c 'grep CapEff /proc/self/status')" \
    "CapEff:	00000000a80425fb" "Docker's default capabilities"
# Privileged: every capability berthd itself may hand out (its bounding set: all of them
# when it runs as the real root).
HOST_CAPS=$(awk '/^CapBnd/ {print $2}' /proc/$BERTHD_PID/status)
assert_eq "$(dk run --rm --privileged busybox sh -c 'grep CapEff /proc/self/status')" \
    "CapEff:	$HOST_CAPS" "--privileged"
assert_eq "$(dk run --rm busybox sh -c 'grep "^Seccomp:" /proc/self/status')" "Seccomp:	2" \
    "the default seccomp filter"
assert_eq "$(dk run --rm --security-opt seccomp=unconfined busybox sh -c \
    'grep "^Seccomp:" /proc/self/status')" "Seccomp:	0" "seccomp=unconfined"
expect_fail dk run --rm busybox unshare -U true
assert_eq "$(dk run --rm --security-opt seccomp=unconfined --privileged busybox sh -c \
    'unshare -U true && echo unshared')" unshared "unshare without the seccomp filter"

# --- log rotation -------------------------------------------------------------------------------

WRITER='i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo done-writing; sleep 30'
_done_writing() { dk logs "$1" 2>/dev/null | grep done-writing >/dev/null; }
ID=$(dk run -d --name lr --log-opt max-size=1k --log-opt max-file=3 busybox sh -c "$WRITER") ||
    fail "run --log-opt max-size=1k: $ID"
wait_for 20 "lr to finish writing" _done_writing lr
LOGDIR=$T/data/containers/$ID
[ -f "$LOGDIR/$ID-json.log.1" ] || fail "no rotated log: $(ls "$LOGDIR")"
[ ! -e "$LOGDIR/$ID-json.log.3" ] || fail "more files than max-file=3"
for f in "$LOGDIR/$ID-json.log"*; do
    [ "$(stat -c %s "$f")" -le 1100 ] || fail "$f is larger than max-size: $(stat -c %s "$f")"
done
assert_eq "$(dk logs --tail 2 lr)" "$(printf 'line-299\ndone-writing')" "docker logs after rotation"
dk rm -f lr >/dev/null || fail "rm lr"
# max-size alone keeps one file (max-file defaults to 1), as Docker does.
ID=$(dk run -d --name l1 --log-opt max-size=1k busybox sh -c "$WRITER") || fail "run l1: $ID"
wait_for 20 "l1 to finish writing" _done_writing l1
[ "$(stat -c %s "$T/data/containers/$ID/$ID-json.log")" -le 1100 ] || fail "max-size=1k not kept"
[ ! -e "$T/data/containers/$ID/$ID-json.log.1" ] || fail "max-file=1 must not keep a rotated file"
dk rm -f l1 >/dev/null || fail "rm l1"

finish
echo "test_berthd_containers: all checks passed"
