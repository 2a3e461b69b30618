# Helpers for tests that SIGKILL berthd in the middle of an operation (test_berthd_volumes,
# test_berthd_cp). Source it after berthd_env.sh. berthd stops at a named point of an
# operation when $BERTHD_FAILPOINTS lists it (failpoint() in runtime-agent/daemon.h), so the
# kill lands exactly there.

# kill_berthd: SIGKILL the running berthd and reap it.
kill_berthd() {
    kill -KILL "$BERTHD_PID"
    wait_for 15 "berthd to die" exited "$BERTHD_PID"
    wait "$BERTHD_PID" 2>/dev/null || true
    BERTHD_PID=
}

# reached POINT N: the log says failpoint POINT was reached more than N times.
reached() {
    [ "$(grep -c "failpoint $1 reached" "$BERTHD_LOG" || true)" -gt "$2" ]
}

# kill_at POINT CMD...: run CMD (in the background) against a berthd that stops at failpoint
# POINT, SIGKILL berthd there, and start a plain berthd again.
kill_at() {
    local point=$1 before cmd
    shift
    stop_berthd
    BERTHD_FAILPOINTS=$point start_berthd
    before=$(grep -c "failpoint $point reached" "$BERTHD_LOG" || true)
    ("$@" >/dev/null 2>&1) &
    cmd=$!
    wait_for 30 "berthd to reach failpoint $point" reached "$point" "$before"
    kill_berthd
    wait "$cmd" 2>/dev/null || true
    start_berthd
}

# spin PID CMD...: check CMD without pausing until it holds or process PID has ended (to kill
# berthd at a point no failpoint marks, as soon as it shows).
spin() {
    local pid=$1 deadline=$((SECONDS + 20))
    shift
    until "$@" || exited "$pid"; do
        [ $SECONDS -lt $deadline ] || fail "timed out waiting for $*"
    done
}
