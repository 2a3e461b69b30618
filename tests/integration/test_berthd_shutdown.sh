#!/usr/bin/env bash
# berthd stopped with SIGTERM while containers run and clients are blocked in it: `docker
# run -d` (which leaves a wait?condition=next-exit behind and drops it), a `docker wait`, raw
# waits, `docker logs -f`, `docker events`, `docker attach` (output only, and with stdin), an attached
# `docker exec`, a `docker stop` in its grace period. berthd must end every connection and exit 0 within a few seconds, with no
# sanitizer report and no "still busy" connection; the clients see their streams end; the
# containers keep running, and a new berthd picks them up. Run it with the normal build and
# with `make SANITIZE=1`. Needs root, busybox-static and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

export DOCKER_HOST=unix://$SOCK
start_berthd
EVENTS_SINCE=$(date +%s)
busybox_tar "$T/busybox.tar"
IMG=$(dk import "$T/busybox.tar" busybox:latest) || fail "docker import: $IMG"

TICKER='i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'
dk run -d --name sleeper busybox sleep 1000 >/dev/null || fail "run sleeper"
dk run -d --name ticker busybox sh -c "$TICKER" >/dev/null || fail "run ticker"
dk run -d -i --name cat busybox cat >/dev/null || fail "run cat"
# Takes its stop signal without stopping.
dk run -d --name stubborn busybox sh -c 'trap "echo got-term" TERM; while true; do sleep 0.1; done' \
    >/dev/null || fail "run stubborn"
declare -A PID
for n in sleeper ticker cat stubborn; do
    PID[$n]=$(dk inspect -f '{{.State.Pid}}' "$n")
    [ "${PID[$n]}" -gt 0 ] || fail "no pid for $n"
done

# --- clients blocked in berthd ---------------------------------------------------------------
docker wait sleeper >"$T/dwait.out" 2>&1 &
DWAIT=$!
_bg_pids+=("$DWAIT")
docker logs -f ticker >"$T/logs.out" 2>&1 &
LOGS=$!
_bg_pids+=("$LOGS")
# --since: what happened before the client got connected is replayed, so no race
docker events --since "$EVENTS_SINCE" --format '{{.Action}}' >"$T/events.out" 2>&1 &
EVENTS=$!
_bg_pids+=("$EVENTS")
docker attach --sig-proxy=false --no-stdin ticker >"$T/attach.out" 2>&1 &
ATTACH=$!
_bg_pids+=("$ATTACH")
# stdin from a fifo held open here: the input side of the attach blocks too.
mkfifo "$T/stdin"
docker attach --sig-proxy=false cat <"$T/stdin" >"$T/attach_in.out" 2>&1 &
ATTACH_IN=$!
_bg_pids+=("$ATTACH_IN")
exec 3>"$T/stdin"
docker exec sleeper sh -c 'echo exec-up; exec sleep 1000' >"$T/exec.out" 2>&1 &
EXEC=$!
_bg_pids+=("$EXEC")
docker stop -t 60 stubborn >"$T/stop.out" 2>&1 &
STOP=$!
_bg_pids+=("$STOP")
# Raw waits show when they are registered: berthd answers the headers first.
for cond in not-running next-exit removed; do
    curl -s --max-time 60 --unix-socket "$SOCK" -X POST -D "$T/wait-$cond.h" \
        -o "$T/wait-$cond.body" "http://x/containers/sleeper/wait?condition=$cond" &
    _bg_pids+=($!)
done

_waiting() { grep -q "^HTTP/1.1 200" "$T/wait-$1.h"; }
for cond in not-running next-exit removed; do
    wait_for 20 "the $cond wait to be registered" _waiting "$cond"
done
_has() { grep -q "$2" "$T/$1.out"; }
wait_for 20 "docker logs -f to stream" _has logs "tick "
wait_for 20 "docker attach to stream" _has attach "tick "
wait_for 20 "docker exec to run" _has exec exec-up
wait_for 20 "docker events to see the exec" _has events exec_start
_got_term() { dk logs stubborn 2>&1 | grep got-term >/dev/null; }
wait_for 20 "docker stop to send its signal" _got_term
echo hello-cat >&3
wait_for 20 "the attached cat to echo its input" _has attach_in hello-cat

# --- SIGTERM ---------------------------------------------------------------------------------
start=$(date +%s%N)
kill -TERM "$BERTHD_PID"
wait_for 10 "berthd to exit" exited "$BERTHD_PID"
ms=$((($(date +%s%N) - start) / 1000000))
rc=0
wait "$BERTHD_PID" || rc=$?
BERTHD_PID=
assert_eq "$rc" 0 "berthd exit status after SIGTERM with blocked clients"
[ "$ms" -lt 4000 ] || fail "berthd took ${ms} ms to stop"
grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$BERTHD_LOG" &&
    fail "sanitizer reports in the berthd log"
grep -F 'still busy at shutdown' "$BERTHD_LOG" && fail "connections were left busy"
grep -q "berthd stopped" "$BERTHD_LOG" || fail "berthd did not log its stop"
echo "berthd stopped in ${ms} ms"

# The clients' streams ended (none of them waits for a berthd that is gone).
for p in $DWAIT $LOGS $EVENTS $ATTACH $EXEC $STOP; do
    wait_for 10 "client $p to end" exited "$p"
done
wait_for 10 "the attach with stdin to end" exited "$ATTACH_IN"
exec 3>&-
rc=0
wait "$DWAIT" || rc=$?
[ "$rc" != 0 ] || fail "docker wait succeeded though the container still runs: $(cat "$T/dwait.out")"
for cond in not-running next-exit removed; do
    body=$(cat "$T/wait-$cond.body" 2>/dev/null || true)
    case "$body" in
    *StatusCode*) fail "the $cond wait got an answer though the container runs: $body" ;;
    esac
done
rc=0
wait "$STOP" || rc=$?
[ "$rc" != 0 ] || fail "docker stop succeeded though the container runs: $(cat "$T/stop.out")"

# The containers outlive berthd (the one being stopped had no SIGKILL), stdin of the
# attached one included.
for n in sleeper ticker cat stubborn; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail "$n (pid ${PID[$n]}) died with berthd"
done

# --- a new berthd picks them up --------------------------------------------------------------
start_berthd
for n in sleeper ticker cat stubborn; do
    assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.Pid}}' "$n")" "running ${PID[$n]}" \
        "$n after the restart"
done
# cat's stdin stayed open: berthd going away is not the end of its input.
out=$(echo hello-again | timeout -s KILL 20 docker attach --sig-proxy=false cat |
    head -n 1) || true
assert_eq "$out" hello-again "cat still reads its stdin after the restart"
finish
echo "test_berthd_shutdown: all checks passed"
