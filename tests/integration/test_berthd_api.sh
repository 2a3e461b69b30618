#!/usr/bin/env bash
# berthd's API server end to end: the docker CLI and curl over the unix socket,
# mutual TLS over tcp, the refusal of unprotected tcp, and the limits that keep
# one bad client (slow, oversized) from hurting the others.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"

export DOCKER_CONFIG=$T/dockercfg
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT
mkdir -p "$DOCKER_CONFIG"
SOCK=$T/berthd.sock

fail() {
    echo "FAIL: $*" >&2
    for log in "$T"/berthd-*.log; do
        [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
    done
    exit 1
}

# start_berthd NAME ARGS...: run berthd with its own roots under $T/NAME and the
# config file $CONFIG; pid in $BG_PID.
CONFIG=$T/daemon.json
start_berthd() {
    local name=$1
    shift
    bg "$BERTHD" daemon --data-root "$T/$name/data" --exec-root "$T/$name/exec" \
        --pidfile "$T/$name/berthd.pid" --config-file "$CONFIG" "$@" \
        2>>"$T/berthd-$name.log"
}

# exited PID: the process is gone or a zombie waiting to be reaped.
exited() {
    ! kill -0 "$1" 2>/dev/null || ps -o stat= -p "$1" | grep -q '^Z'
}

# stop_berthd PID: SIGTERM, then the daemon must exit 0 (sanitizer reports make it non-zero).
stop_berthd() {
    local pid=$1 rc=0
    kill -TERM "$pid"
    wait_for 15 "berthd $pid to exit" exited "$pid"
    wait "$pid" || rc=$?
    assert_eq "$rc" 0 "berthd exit status"
}

ucurl() {
    curl -s --max-time 10 --unix-socket "$SOCK" "$@"
}

# The flags win over the config file: its data-root must be ignored, its log level used.
echo '{"log-level": "debug", "data-root": "/nonexistent/berth-should-not-be-used"}' >"$T/daemon.json"

# --- command line ---
VERSION=$("$BERTHD" --version | sed -n 's/^berthd version \([^,]*\),.*/\1/p')
[ -n "$VERSION" ] || fail "berthd version printed no version"
assert_eq "$("$BERTHD" -v)" "$("$BERTHD" --version)" "-v"
expect_fail "$BERTHD"
assert_contains "$ERR" "Usage: berthd"
expect_fail "$BERTHD" daemon --config-file "$T/missing.json" -H "unix://$T/never.sock"
assert_contains "$ERR" "missing.json"
expect_fail "$BERTHD" daemon --bogus-flag
assert_contains "$ERR" "bogus-flag"

# --- unix socket ---
# Something that is not a socket is never replaced; a stale socket (nobody answers) is.
touch "$SOCK"
expect_fail "$BERTHD" daemon -H "unix://$SOCK" --data-root "$T/other/data" \
    --exec-root "$T/other/exec" --config-file "$CONFIG"
assert_contains "$ERR" "not a socket"
rm "$SOCK"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
[ -S "$SOCK" ] || fail "could not make a stale socket"
start_berthd unix -H "unix://$SOCK"
UNIX_PID=$BG_PID
wait_for 20 "berthd on $SOCK" ucurl -f http://x/_ping

assert_eq "$(DOCKER_HOST=unix://$SOCK timeout 60 docker version --format '{{.Server.Version}}')" \
    "$VERSION" "docker version"
INFO=$(DOCKER_HOST=unix://$SOCK timeout 60 docker info 2>&1) || fail "docker info: $INFO"
assert_contains "$INFO" "Server Version: $VERSION"
assert_contains "$INFO" "Docker Root Dir: $T/unix/data"

assert_eq "$(stat -c %a "$SOCK")" 660 "socket mode"
assert_eq "$(cat "$T/unix/berthd.pid")" "$UNIX_PID" "pid file"
assert_eq "$(ucurl http://x/info | python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')" \
    "$(cat "$T/unix/data/engine-id")" "engine ID"

PING=$(ucurl -i http://x/_ping)
assert_contains "$PING" "HTTP/1.1 200 OK"
assert_contains "$PING" "Api-Version: 1.43"
assert_contains "$PING" "Ostype: linux"
assert_contains "$PING" "Server: berthd/$VERSION (linux)"
assert_contains "$PING" "Swarm: inactive"
assert_contains "$PING" "Docker-Experimental: false"
assert_eq "$(ucurl http://x/_ping)" "OK" "ping body"
assert_eq "$(ucurl http://x/v1.43/_ping)" "OK" "versioned ping"
assert_eq "$(ucurl -I -o /dev/null -w '%{http_code}' http://x/_ping)" 200 "HEAD /_ping"

assert_eq "$(ucurl -o "$T/out" -w '%{http_code}' http://x/v9.99/version)" 400 "too new version"
assert_contains "$(cat "$T/out")" '"message":"client version 9.99 is too new'
assert_eq "$(ucurl -o "$T/out" -w '%{http_code} %{content_type}' http://x/no/such/route)" \
    "404 application/json" "unknown route"
assert_eq "$(cat "$T/out")" '{"message":"page not found"}'

# A second daemon must not steal a live socket.
expect_fail "$BERTHD" daemon -H "unix://$SOCK" --data-root "$T/other/data" \
    --exec-root "$T/other/exec" --config-file "$T/daemon.json"
assert_contains "$ERR" "another daemon is listening"

# --- a slow client must not block others ---
cat >"$T/slow.py" <<'EOF'
import socket, sys, time
socks = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"GET /_pi")  # half a request line, then silence
    socks.append(s)
open(sys.argv[2], "w").write("ready")
time.sleep(120)
EOF
bg python3 "$T/slow.py" "$SOCK" "$T/slow.ready"
SLOW_PID=$BG_PID
wait_for 10 "slow clients connected" test -f "$T/slow.ready"
assert_eq "$(curl -s --max-time 5 --unix-socket "$SOCK" http://x/_ping)" "OK" "ping beside slow clients"
# Reap it here: lib.sh's cleanup would see its signal status as a failure.
kill "$SLOW_PID"
wait "$SLOW_PID" || true

# --- oversized headers: refused, and the daemon goes on ---
cat >"$T/big.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
try:
    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except (ConnectionResetError, socket.timeout):
    pass
print(data.split(b"\r\n")[0].decode() if data else "closed")
EOF
BIG=$(python3 "$T/big.py" "$SOCK")
case "$BIG" in
"HTTP/1.1 431 "* | "HTTP/1.1 400 "* | closed) ;;
*) fail "oversized header answered [$BIG]" ;;
esac
assert_eq "$(ucurl http://x/_ping)" "OK" "ping after oversized header"

# A chunked body over a connection kept alive, then a second request on it.
assert_eq "$(ucurl -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
    -H 'Transfer-Encoding: chunked' --data-binary 'ignored' http://x/_ping http://x/_ping |
    tr '\n' ' ')" "405 1 405 0 " "body on a GET-only route, connection reused"

stop_berthd "$UNIX_PID"
[ ! -e "$SOCK" ] || fail "socket $SOCK left behind"
[ ! -e "$T/unix/berthd.pid" ] || fail "pid file left behind"
grep -q 'debug GET /_ping 200' "$T/berthd-unix.log" || fail "no debug request log line"

# --- tcp needs --tlsverify or an explicit --insecure-tcp ---
PORT=$(free_port)
expect_fail "$BERTHD" daemon -H "tcp://127.0.0.1:$PORT" --data-root "$T/plain/data" \
    --exec-root "$T/plain/exec" --config-file "$T/daemon.json"
assert_contains "$ERR" "--insecure-tcp"

# This time the address comes from daemon.json's "hosts".
CONFIG=$T/daemon-tcp.json
echo "{\"hosts\": [\"tcp://127.0.0.1:$PORT\"]}" >"$CONFIG"
start_berthd insecure --insecure-tcp
INSECURE_PID=$BG_PID
wait_for 20 "berthd on tcp://127.0.0.1:$PORT" curl -sf --max-time 5 "http://127.0.0.1:$PORT/_ping"
grep -q INSECURE "$T/berthd-insecure.log" || fail "no warning for insecure tcp"
assert_contains "$(curl -s --max-time 5 "http://127.0.0.1:$PORT/info")" "without encryption"
stop_berthd "$INSECURE_PID"

# --- mutual TLS ---
TLS=$T/tls
mkdir -p "$TLS"
(
    cd "$TLS"
    ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    openssl req -x509 $ec -keyout ca-key.pem -out ca.pem -days 2 -subj "/CN=berth test CA"
    openssl req $ec -keyout server-key.pem -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
        -out server-cert.pem -days 2 -extfile server.ext
    openssl req $ec -keyout key.pem -out client.csr -subj "/CN=berth test client"
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
        -out cert.pem -days 2 -extfile client.ext
) >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"

CONFIG=$T/daemon.json
PORT=$(free_port)
start_berthd tls -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$TLS/ca.pem" \
    --tlscert "$TLS/server-cert.pem" --tlskey "$TLS/server-key.pem"
TLS_PID=$BG_PID
tcurl() {
    curl -s --max-time 10 --cacert "$TLS/ca.pem" "$@"
}
wait_for 20 "berthd on tls://127.0.0.1:$PORT" \
    tcurl -f --cert "$TLS/cert.pem" --key "$TLS/key.pem" "https://127.0.0.1:$PORT/_ping"

assert_eq "$(DOCKER_HOST=tcp://127.0.0.1:$PORT DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$TLS \
    timeout 60 docker version --format '{{.Server.Version}}')" "$VERSION" "docker version over TLS"
assert_eq "$(tcurl --tlsv1.2 --tls-max 1.2 --cert "$TLS/cert.pem" --key "$TLS/key.pem" \
    "https://127.0.0.1:$PORT/v1.43/_ping")" "OK" "TLS 1.2 client"
expect_fail tcurl -f "https://127.0.0.1:$PORT/_ping"
# A client that speaks plain HTTP to the TLS port gets nothing useful either.
expect_fail curl -sf --max-time 5 "http://127.0.0.1:$PORT/_ping"
assert_eq "$(tcurl --cert "$TLS/cert.pem" --key "$TLS/key.pem" "https://localhost:$PORT/_ping")" \
    "OK" "ping after refused clients"
stop_berthd "$TLS_PID"

echo "test_berthd_api: all checks passed"
