#!/usr/bin/env bash
# `docker logs` and `docker exec` against berthd end to end with the docker CLI, docker-py
# and curl: both streams and their framing, --tail, -t, --since/--until, -f until the
# container stops and across log rotation, the none log driver, TTY logs; exec output, exit
# codes (5, 127), stdin, a real TTY, -e/-w/-u, detached execs, exec inspect, and the refusals
# for stopped containers. Needs root (containers), /bin/busybox (busybox-static), python3
# with docker-py, and script(1) for the TTY case.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
export DOCKER_HOST=unix://$SOCK

# --- a daemon and a busybox image -------------------------------------------------------

busybox_tar "$T/rootfs.tar"
start_berthd
IMG=$(dk import "$T/rootfs.tar" busybox:latest) || fail "docker import: $IMG"

TICKER='echo out; echo err >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'
C1=$(dk run -d --name c1 busybox sh -c "$TICKER") || fail "docker run c1: $C1"
[[ "$C1" =~ ^[0-9a-f]{64}$ ]] || fail "docker run -d printed [$C1]"
has_tick() { dk logs c1 2>/dev/null | grep "^tick $1\$" >/dev/null; }
wait_for 20 "c1 to log tick 3" has_tick 3

# --- logs ------------------------------------------------------------------------------

ALL=$(dk logs c1 2>&1) || fail "docker logs: $ALL"
assert_contains "$ALL" "out"
assert_contains "$ALL" "err"
assert_contains "$ALL" "tick 0"
assert_eq "$(dk logs c1 2>/dev/null | sed -n 1,2p)" "$(printf 'out\ntick 0')" "stdout only, in order"
assert_eq "$(dk logs c1 2>&1 >/dev/null)" "err" "stderr only"

TAIL=$(dk logs --tail 2 c1 2>&1)
assert_eq "$(echo "$TAIL" | wc -l)" 2 "--tail 2 line count"
N=$(echo "$TAIL" | sed -n 1p | sed -n 's/^tick \([0-9]*\)$/\1/p')
[ -n "$N" ] || fail "--tail 2 gave [$TAIL]"
assert_eq "$(echo "$TAIL" | tail -1)" "tick $((N + 1))" "--tail 2 consecutive lines"
assert_eq "$(dk logs --tail 0 c1 2>&1)" "" "--tail 0"
assert_eq "$(dk logs --tail all c1 2>/dev/null | sed -n 1p)" "out" "--tail all"

TS=$(dk logs -t c1 2>/dev/null | sed -n 1p)
[[ "$TS" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z\ out$ ]] ||
    fail "docker logs -t: [$TS]"
assert_eq "$(dk logs --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" c1 2>&1)" "" \
    "--since in the future"
assert_eq "$(dk logs --until 2000-01-01T00:00:00Z c1 2>&1)" "" "--until in the past"
# Bounds at the exact time of one line: both are inclusive.
TS3=$(dk logs -t c1 2>/dev/null | sed -n 's/^\([^ ]*\) tick 3$/\1/p')
[ -n "$TS3" ] || fail "no timestamp for tick 3"
assert_eq "$(dk logs --since "$TS3" c1 2>/dev/null | sed -n 1p)" "tick 3" "--since a line's time"
assert_eq "$(dk logs --until "$TS3" c1 2>/dev/null | tail -n 2)" "$(printf 'tick 2\ntick 3')" \
    "--until a line's time"

# The raw API: a multiplexed stream of 8-byte framed lines, stream 2 for stderr.
ucurl -o "$T/mux" -D "$T/mux.h" "http://x/containers/c1/logs?stdout=1&stderr=1&tail=all"
assert_contains "$(cat "$T/mux.h")" "application/vnd.docker.multiplexed-stream"
# (The two streams come through separate pipes: their relative order is not fixed.)
FRAMES=$(python3 -c 'import struct, sys
d = open(sys.argv[1], "rb").read()
out = []
while d:
    s, n = struct.unpack(">BxxxI", d[:8]); out.append("%d:%s" % (s, d[8:8 + n].decode())); d = d[8 + n:]
sys.stdout.write("".join(sorted(out[:3])))' "$T/mux")
assert_eq "$FRAMES" "$(printf '1:out\n1:tick 0\n2:err')" "multiplexed frames"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' "http://x/containers/c1/logs")" 400 \
    "logs without a stream"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' "http://x/containers/nosuch/logs?stdout=1")" \
    404 "logs of a missing container"

# --- exec ------------------------------------------------------------------------------

assert_eq "$(dk exec c1 echo hi)" "hi" "docker exec echo"
rc=0
dk exec c1 sh -c 'exit 5' || rc=$?
assert_eq "$rc" 5 "exit code of exec sh -c 'exit 5'"
rc=0
dk exec c1 nosuchcmd >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 127 "exit code of a missing command"
assert_eq "$(printf 'one\ntwo\n' | dk exec -i c1 cat)" "$(printf 'one\ntwo')" "exec -i cat"
assert_eq "$(dk exec c1 sh -c 'echo o; echo e >&2' 2>/dev/null)" "o" "exec stdout"
assert_eq "$(dk exec c1 sh -c 'echo o; echo e >&2' 2>&1 >/dev/null)" "e" "exec stderr"
assert_eq "$(dk exec -e FOO=bar -w /tmp -u nobody c1 sh -c 'echo $FOO $(pwd) $(id -u)')" \
    "bar /tmp 65534" "exec -e -w -u"
assert_eq "$(dk exec c1 sh -c 'echo $PATH')" \
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "exec inherits the env"
if command -v script >/dev/null; then
    TTYOUT=$(timeout 60 script -qec "docker exec -it c1 tty" /dev/null </dev/null)
    assert_contains "$TTYOUT" "/dev/pts/"
    TTYOUT=$(timeout 60 script -qec "docker exec -it c1 sh -c 'stty size; exit 3'" /dev/null \
        </dev/null) || true
    [[ "$TTYOUT" =~ [0-9]+\ [0-9]+ ]] || fail "stty size under exec -it: [$TTYOUT]"
else
    fail "script(1) is missing (util-linux)"
fi
assert_eq "$(dk exec -t c1 sh -c 'echo tty' | tr -d '\r')" "tty" "exec -t without -i"

dk exec -d c1 sh -c 'echo detached >/tmp/d; sleep 0.2' || fail "exec -d"
wait_for 10 "the detached exec's file" dk exec c1 test -f /tmp/d

RES=$(py 'print(c.containers.get("c1").exec_run("echo hi"))')
assert_eq "$RES" "ExecResult(exit_code=0, output=b'hi\\n')" "docker-py exec_run"
RES=$(py 'print(c.containers.get("c1").exec_run("sh -c \"echo a; echo b >&2; exit 4\"", demux=True))')
assert_eq "$RES" "ExecResult(exit_code=4, output=(b'a\\n', b'b\\n'))" "docker-py exec_run demux"
# inspect's Pid is the exec'd process itself, on the host: its command line is the command's
RES=$(py 'import time
e = c.api.exec_create("c1", "sleep 5")["Id"]
c.api.exec_start(e, detach=True)
for _ in range(100):
    p = c.api.exec_inspect(e)["Pid"]
    if open("/proc/%d/cmdline" % p).read().split("\0")[0] == "sleep":
        break
    time.sleep(0.02)
print(open("/proc/%d/cmdline" % p).read().split("\0")[:2])')
assert_eq "$RES" "['sleep', '5']" "exec inspect Pid is the exec'd process"
RES=$(py 'import time
e = c.api.exec_create("c1", "sh -c \"sleep 0.3; exit 7\"")["Id"]
c.api.exec_start(e, detach=True)
i = c.api.exec_inspect(e)
print(i["Running"], i["ExitCode"], i["ProcessConfig"]["entrypoint"], i["Pid"] > 0)
for _ in range(100):
    i = c.api.exec_inspect(e)
    if not i["Running"]:
        break
    time.sleep(0.05)
print(i["Running"], i["ExitCode"], i["ContainerID"] == c.containers.get("c1").id)
try:
    c.api.exec_start(e)
except docker.errors.APIError as err:
    print(err.status_code)
try:
    c.api.exec_inspect("0" * 64)
except docker.errors.NotFound:
    print("404")
try:
    c.api.exec_create("c1", [])
except docker.errors.APIError as err:
    print(err.status_code)')
assert_eq "$RES" "$(printf 'True None sh True\nFalse 7 True\n409\n404\n400')" "exec inspect"

# --- follow until the container stops --------------------------------------------------

dk logs -f c1 >"$T/follow.out" 2>&1 &
FOLLOW=$!
sleep 1
dk stop -t 1 c1 >/dev/null || fail "docker stop c1"
wait_for 15 "docker logs -f to end when c1 stopped" exited "$FOLLOW"
wait "$FOLLOW" || fail "docker logs -f exited non-zero"
python3 -c 'import sys
t = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("tick ")]
assert t == list(range(len(t))) and len(t) > 5, t' "$T/follow.out" ||
    fail "docker logs -f output: $(head -c 300 "$T/follow.out")"

expect_fail dk exec c1 echo hi
assert_contains "$ERR" "is not running"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Cmd":["true"]}' http://x/containers/c1/exec)" 409 "exec create on a stopped container"
assert_contains "$(dk logs c1 2>&1)" "tick 5"

# --- rotation, following across it ------------------------------------------------------

# 3000 numbered lines in bursts of 50, rotated every 10 KB into at most 5 files: a follower
# must see a gapless run ending with the last line.
WRITER='i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.05; done; sleep 0.5'
C4=$(dk run -d --name c4 --log-opt max-size=10k --log-opt max-file=5 busybox sh -c "$WRITER") ||
    fail "docker run c4: $C4"
dk logs -f c4 >"$T/rot.out" 2>&1 || fail "docker logs -f c4"
python3 -c 'import sys
n = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("line ")]
assert n and n == list(range(n[0], 3000)), (n[:3], n[-3:], len(n))' "$T/rot.out" ||
    fail "following across rotation: $(head -c 200 "$T/rot.out") ... $(tail -c 200 "$T/rot.out")"
ls "$T/data/containers/$C4/$C4-json.log.1" >/dev/null || fail "c4's log was not rotated"
assert_eq "$(dk logs --tail 3 c4)" "$(printf 'line 2997\nline 2998\nline 2999')" \
    "--tail across rotated files"

# --- TTY logs, the none driver ----------------------------------------------------------

dk run -d -t --name c3 busybox sh -c 'echo tty-out; sleep 100' >/dev/null || fail "run -t c3"
has_tty_out() { dk logs c3 2>&1 | grep tty-out >/dev/null; }
wait_for 20 "c3's output" has_tty_out
assert_eq "$(dk logs c3 | tr -d '\r')" "tty-out" "logs of a TTY container"
ucurl -o /dev/null -D "$T/raw.h" "http://x/containers/c3/logs?stdout=1"
assert_contains "$(cat "$T/raw.h")" "application/vnd.docker.raw-stream"
dk rm -f c3 >/dev/null || fail "rm -f c3"

dk run -d --log-driver none --name c2 busybox true >/dev/null || fail "run --log-driver none"
expect_fail dk logs c2
assert_contains "$ERR" "configured logging driver does not support reading"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' "http://x/containers/c2/logs?stdout=1")" 501 \
    "logs with the none driver"

# --- execs go away with their container -------------------------------------------------

dk start c1 >/dev/null || fail "restart c1"
EID=$(ucurl -X POST -H 'Content-Type: application/json' -d '{"Cmd":["true"]}' \
    http://x/containers/c1/exec | python3 -c 'import json, sys; print(json.load(sys.stdin)["Id"])')
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' "http://x/exec/$EID/json")" 200 "exec inspect"
dk rm -f c1 >/dev/null || fail "rm -f c1"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' "http://x/exec/$EID/json")" 404 \
    "an exec of a removed container"

finish
echo "PASS"
