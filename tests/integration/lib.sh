# Shared helpers for integration tests. Source it; each test gets its own
# temp dir ($T) that is removed, with every process started via bg, on exit.
set -euo pipefail

# A test that sets OWN_NETNS=1 before sourcing this runs in a network and mount namespace of
# its own (re-executed under unshare): the berthd it starts makes its bridge, nftables rules,
# veths and published ports there, never on the host's network.
if [ -n "${OWN_NETNS:-}" ] && [ -z "${BERTH_TEST_NETNS:-}" ]; then
    exec unshare --net --mount -- env BERTH_TEST_NETNS=1 bash "$0" "$@"
fi
[ -z "${BERTH_TEST_NETNS:-}" ] || ip link set lo up

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BERTH="$TOP/build/bin/berth"
BERTHD="$TOP/build/bin/berthd"
T=$(mktemp -d "${TMPDIR:-/tmp}/berth-test.XXXXXX")
export BERTH_STORAGE_PATH="$T/store"
export BERTH_DRIVER_PATH="$TOP/build/lib/berth/drivers"
_bg_pids=()
# docker-py as Debian packages it (python3-docker 5), whatever python3 comes first in PATH.
DOCKER_PY=/usr/bin/python3

_cleanup() {
    local rc=$?
    set +e
    for p in "${_bg_pids[@]:-}"; do
        [ -n "$p" ] || continue
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$T"
    exit $rc
}
trap _cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# bg CMD...: start CMD in the background, killed at exit; its pid is in $BG_PID.
bg() {
    "$@" &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "timed out after ${secs}s waiting for $what"
        sleep 0.05
    done
}

assert_eq() {
    [ "$1" == "$2" ] || fail "${3:-values differ}: expected [$2], got [$1]"
}

assert_contains() {
    case "$1" in
    *"$2"*) ;;
    *) fail "${3:-missing text}: [$2] not in [$1]" ;;
    esac
}

# expect_fail CMD...: CMD must exit non-zero; its stderr is left in $ERR.
expect_fail() {
    if ERR=$("$@" 2>&1 >/dev/null); then
        fail "expected failure: $*"
    fi
}

# free_port: a TCP port on 127.0.0.1 nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# udp_echo_at PID PORT WHAT: a UDP echo on 127.0.0.1:PORT in the network namespace of PID
# (answers "echo MSG" to each datagram), started with bg ($BG_PID) and waited for. Python
# because busybox has neither a UDP server applet nor nc -u.
udp_echo_at() {
    rm -f "$T/echo-ready"
    bg nsenter --net=/proc/$1/ns/net python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(b"echo " + data, peer)
' "$2" "$T/echo-ready"
    wait_for 10 "$3" test -e "$T/echo-ready"
}

# udp_ask PORT MSG [CLIENT_PORT]: send MSG to 127.0.0.1:PORT (retrying), print the answer.
udp_ask() {
    timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 3:
    s.bind(("127.0.0.1", int(sys.argv[3])))
s.settimeout(1)
for _ in range(10):
    s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recv(65535).decode())
        sys.exit(0)
    except (socket.timeout, ConnectionRefusedError):
        pass
sys.exit("no answer from 127.0.0.1:" + sys.argv[1])
' "$@"
}
