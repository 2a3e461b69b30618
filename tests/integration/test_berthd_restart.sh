#!/usr/bin/env bash
# berthd killed with SIGKILL while containers run, then started again on the same roots:
# the containers keep running (same pids) and show as Up; their logs go on (lines written
# while berthd was down, and new ones after); a container that exited while berthd was down
# has its exit code recorded, and its restart policy applied, when berthd comes back; one
# that exits after the restart gets its exit code too (monitoring resumed), also for a
# `docker wait` started after the restart; stop, kill, exec, attach and rm work on the
# adopted containers. Then a clean SIGTERM stop leaves the containers running, and a third
# berthd adopts them again. Needs root, busybox-static and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
IMG=$(dk import "$T/busybox.tar" busybox:latest) || fail "docker import: $IMG"

TICKER='trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'
# Exits with CODE when sent USR1 (signals reach it without berthd), or when /tmp/go appears.
exit_on() {
    echo "trap 'exit $1' USR1; while [ ! -e /tmp/go ]; do sleep 0.05; done; exit $1"
}
TICKER_ID=$(dk run -d --name ticker busybox sh -c "$TICKER") || fail "run ticker: $TICKER_ID"
LOG=$T/data/containers/$TICKER_ID/$TICKER_ID-json.log
dk run -d --name down7 busybox sh -c "$(exit_on 7)" >/dev/null || fail "run down7"
dk run -d --name after9 busybox sh -c "$(exit_on 9)" >/dev/null || fail "run after9"
dk run -d --name retry --restart on-failure:1 busybox sh -c "echo try; $(exit_on 5)" \
    >/dev/null || fail "run retry"
dk run -d --name paused busybox sleep 300 >/dev/null || fail "run paused"
dk pause paused >/dev/null || fail "pause"
dk create --name created busybox true >/dev/null || fail "create"
dk run --name done3 busybox sh -c 'exit 3' || true

declare -A PID
for n in ticker down7 after9 retry paused; do
    PID[$n]=$(dk inspect -f '{{.State.Pid}}' "$n")
    [ "${PID[$n]}" -gt 0 ] || fail "no pid for $n"
done
has_tick() { dk logs ticker 2>/dev/null | grep -x "tick $1" >/dev/null; }
last_tick() { dk logs ticker 2>/dev/null | tail -n 1 | sed -n 's/^tick //p'; }
wait_for 20 "ticker to log" has_tick 2

# --- SIGKILL -------------------------------------------------------------------------------
kill -KILL "$BERTHD_PID"
wait_for 15 "berthd to die" exited "$BERTHD_PID"
wait "$BERTHD_PID" 2>/dev/null || true
BERTHD_PID=
BEFORE=$(tail -n 1 "$LOG")
for n in ticker down7 after9 retry paused; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail "$n (pid ${PID[$n]}) died with berthd"
done
# While berthd is down: the logs keep growing, and two containers exit.
_log_grew() { [ "$(tail -n 1 "$LOG")" != "$BEFORE" ]; }
wait_for 10 "the ticker's log to grow while berthd is down" _log_grew
kill -USR1 "${PID[down7]}" "${PID[retry]}"
wait_for 10 "down7 to exit while berthd is down" exited "${PID[down7]}"
wait_for 10 "retry to exit while berthd is down" exited "${PID[retry]}"
TICK_DOWN=$(tail -n 1 "$LOG" | sed -n 's/^{"log":"tick \([0-9]*\)\\n".*/\1/p')
[ -n "$TICK_DOWN" ] || fail "cannot read the ticker's log: $(tail -n 1 "$LOG")"

# --- restart -------------------------------------------------------------------------------
start_berthd
status_of() { dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
assert_eq "$(status_of down7)" "exited 7" "exit code recorded while berthd was down"
assert_eq "$(dk inspect -f '{{.State.Pid}} {{.State.Running}}' down7)" "0 false" "down7's state"
assert_eq "$(status_of ticker)" "running 0" "ticker after the restart"
assert_eq "$(dk inspect -f '{{.State.Pid}}' ticker)" "${PID[ticker]}" "ticker keeps its pid"
assert_eq "$(dk inspect -f '{{.State.Pid}}' after9)" "${PID[after9]}" "after9 keeps its pid"
assert_eq "$(status_of paused)" "paused 0" "a paused container stays paused"
assert_eq "$(status_of created)" "created 0" "a created container"
assert_eq "$(status_of done3)" "exited 3" "an exited container"
# on-failure:1 applies to an exit berthd learns about at startup.
_retried() { [ "$(dk inspect -f '{{.RestartCount}} {{.State.Status}}' retry)" = "1 running" ]; }
wait_for 20 "retry to be restarted" _retried
assert_eq "$(dk logs retry | grep -c try)" 2 "retry ran twice"

PS=$(dk ps --format '{{.Names}} {{.Status}}' | sort)
assert_contains "$PS" "after9 Up"
assert_contains "$PS" "ticker Up"
assert_contains "$PS" "paused Up"
assert_contains "$PS" "(Paused)"
case "$PS" in *down7*) fail "docker ps lists the exited down7: $PS" ;; esac
assert_contains "$(dk ps -a --format '{{.Names}} {{.Status}}')" "down7 Exited (7)"
assert_eq "$(dk info --format '{{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}')" \
    "3 1 3" "docker info counts"

# Logs: what was written while berthd was down, and new lines now.
has_tick "$TICK_DOWN" || fail "tick $TICK_DOWN (written while berthd was down) is not in docker logs"
wait_for 20 "new ticks after the restart" has_tick $((TICK_DOWN + 5))
N=$(last_tick)
FOLLOW=$( (timeout -s KILL 20 docker logs -f ticker || true) | grep -m1 -x "tick $((N + 3))")
assert_eq "$FOLLOW" "tick $((N + 3))" "docker logs -f on an adopted container"
assert_eq "$(dk exec ticker echo exec-after-restart)" exec-after-restart "exec after the restart"
OUT=$(timeout -s KILL 20 docker attach --sig-proxy=false ticker | head -n 2) || true
[[ "$OUT" =~ ^tick\ [0-9]+$'\n'tick\ [0-9]+$ ]] || fail "attach after the restart: [$OUT]"

# Exits after the restart: the monitor was resumed (docker wait and the record see them).
# (The raw API shows when the waiter is registered: berthd answers the headers first.)
curl -s --max-time 30 --unix-socket "$SOCK" -X POST -D "$T/wait.h" -o "$T/wait.body" \
    "http://x/containers/after9/wait" &
WAITER=$!
_waiting() { grep -q "^HTTP/1.1 200" "$T/wait.h"; }
wait_for 20 "the wait request to be registered" _waiting
exited "$WAITER" && fail "the wait returned before after9 exited: $(cat "$T/wait.body")"
dk exec after9 touch /tmp/go || fail "exec after9"
wait_for 20 "the wait for after9 to return" exited "$WAITER"
wait "$WAITER" || fail "curl .../wait failed"
assert_eq "$(cat "$T/wait.body")" '{"StatusCode":9,"Error":null}' "wait on an adopted container"
assert_eq "$(dk wait after9)" 9 "docker wait on the exited container"
assert_eq "$(status_of after9)" "exited 9" "exit code of an adopted container"
exited "${PID[after9]}" || fail "after9's process is still there"

dk unpause paused >/dev/null || fail "unpause an adopted container"
dk stop -t 5 ticker >/dev/null || fail "stop an adopted container"
assert_eq "$(status_of ticker)" "exited 0" "ticker after docker stop"
exited "${PID[ticker]}" || fail "ticker's process survived docker stop"
dk start ticker >/dev/null || fail "start ticker again"

# --- a clean stop keeps containers running; a third berthd adopts them again ---------------
PID[ticker]=$(dk inspect -f '{{.State.Pid}}' ticker)
stop_berthd
kill -0 "${PID[ticker]}" || fail "ticker died with a clean berthd stop"
kill -0 "${PID[paused]}" || fail "paused died with a clean berthd stop"
start_berthd
assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.Pid}}' ticker)" "running ${PID[ticker]}" \
    "ticker after the second restart"
dk kill ticker >/dev/null || fail "kill an adopted container"
_ticker_killed() { [ "$(status_of ticker)" = "exited 137" ]; }
wait_for 20 "ticker to be recorded as killed" _ticker_killed

finish
echo "test_berthd_restart: all checks passed"
