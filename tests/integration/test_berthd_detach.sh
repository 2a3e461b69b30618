#!/usr/bin/env bash
# Docker's detach keys against berthd, end to end: on a real terminal (tmux) `docker run -it`,
# `docker attach` and `docker exec -it` leave with ctrl-p ctrl-q (or --detach-keys) while the
# container and the exec'd shell keep running, a later `docker attach` works and `exit` ends
# it; invalid keys are refused. Then a raw API client (the docker CLI spots the keys itself,
# berthd must too for every other client): keys split across writes, a partial match that
# is delivered in order, exec's DetachKeys. Needs root, /bin/busybox, tmux, the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
export DOCKER_HOST=unix://$SOCK

busybox_tar "$T/rootfs.tar"
start_berthd
dk import --change 'CMD ["sh"]' "$T/rootfs.tar" busybox:latest >/dev/null || fail "docker import"

# detached NAME WHAT: the command in terminal NAME ended as the docker CLI ends on the detach
# keys: `docker run` exits 0; `attach` and `exec` report "read escape sequence" and exit 1
# (as they do against dockerd).
detached() {
    local rc
    rc=$(tty_rc "$1")
    case $2 in
    run) assert_eq "$rc" 0 "exit status of docker run -it after the detach keys" ;;
    *)
        assert_eq "$rc" 1 "exit status of docker $2 after the detach keys"
        assert_contains "$(cat "$T/$1.err")" "read escape sequence" "docker $2's message"
        ;;
    esac
}

running() {
    assert_eq "$(dk inspect -f '{{.State.Running}}' "$1")" true "$1 runs (${2:-})"
}
# shells NAME: how many sh processes run in container NAME.
shells() {
    dk top "$1" | grep -c ' sh$' || true
}

# --- docker run -it, then ctrl-p ctrl-q ------------------------------------------------

tty_start run "docker run -it --name sx busybox sh"
tty_expect run "/ #"
tm send-keys -t run 'echo one-$((6*7))' Enter
tty_expect run "one-42"
tm send-keys -t run C-p C-q
detached run run
running sx "after detaching from docker run -it"

# --- docker attach, detach again; --detach-keys -----------------------------------------

tty_start att1 "docker attach sx 2>'$T/att1.err'"
sleep 0.5
tm send-keys -t att1 'echo two-$((6*7))' Enter
tty_expect att1 "two-42"
tm send-keys -t att1 C-p C-q
detached att1 attach
running sx "after detaching from docker attach"

tty_start att2 "docker attach --detach-keys ctrl-a,a sx 2>'$T/att2.err'"
sleep 0.5
tm send-keys -t att2 'echo three-$((6*7))' Enter
tty_expect att2 "three-42"
# ctrl-p ctrl-q are plain input now: the session goes on.
tm send-keys -t att2 C-p C-q
sleep 0.5
[ ! -f "$T/att2.rc" ] || fail "ctrl-p ctrl-q detached although the keys are ctrl-a,a"
tm send-keys -t att2 C-c
tm send-keys -t att2 'echo four-$((6*7))' Enter
tty_expect att2 "four-42"
tm send-keys -t att2 C-a a
detached att2 attach
running sx "after detaching with ctrl-a a"

tty_start run2 "docker run -it --detach-keys ctrl-a,a --name sy busybox sh"
tty_expect run2 "/ #"
tm send-keys -t run2 C-a a
detached run2 run
running sy "after detaching from docker run --detach-keys"

# --- invalid keys -----------------------------------------------------------------------

tty_start bad "docker attach --detach-keys shift-z sx 2>'$T/bad.err'"
[ "$(tty_rc bad)" != 0 ] || fail "docker attach with invalid keys exited 0"
# The CLI reports only the status of a refused upgrade (as it does with dockerd); curl below
# reads the message.
assert_contains "$(cat "$T/bad.err")" "received 400"
running sx "after a refused attach"
tty_start badx "docker exec -it --detach-keys ctrl-1 sx sh 2>'$T/badx.err'"
[ "$(tty_rc badx)" != 0 ] || fail "docker exec with invalid keys exited 0"
assert_contains "$(cat "$T/badx.err")" "Invalid escape keys (ctrl-1) provided"
code=$(ucurl -o "$T/body" -w '%{http_code}' -X POST \
    "http://x/containers/sx/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-p,,ctrl-q")
assert_eq "$code" 400 "attach with detachKeys=ctrl-p,,ctrl-q"
assert_contains "$(cat "$T/body")" "Invalid detach keys (ctrl-p,,ctrl-q) provided"

# --- docker exec -it, then ctrl-p ctrl-q: the exec'd shell keeps running -----------------

assert_eq "$(shells sx)" 1 "shells in sx before the exec"
tty_start ex "docker exec -it sx sh 2>'$T/ex.err'"
tty_expect ex "/ #"
tm send-keys -t ex 'echo five-$((6*7))' Enter
tty_expect ex "five-42"
tm send-keys -t ex C-p C-q
detached ex exec
assert_eq "$(shells sx)" 2 "shells in sx after detaching from the exec"

# --- a raw API client: berthd finds the keys itself ---------------------------------------

# hijack PATH BODY PIECE...: POST PATH (JSON BODY, or none when empty) on the socket,
# upgraded; send each PIECE (Python bytes literals) 0.3 s apart; then wait up to 3 s for
# berthd to end the stream. Prints "closed" or "open".
hijack() {
    timeout 30 python3 - "$SOCK" "$@" <<'EOF'
import ast, socket, sys, time
sock, path, body, pieces = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
head = "POST %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" % path
if body:
    head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
s.sendall((head + "\r\n" + body).encode())
resp = b""
while b"\r\n\r\n" not in resp:
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("no response")
    resp += chunk
if not resp.startswith(b"HTTP/1.1 101"):
    sys.exit("not upgraded: %r" % resp)
for p in pieces:
    time.sleep(0.3)
    s.sendall(ast.literal_eval(p))
s.settimeout(3)
try:
    while s.recv(4096):
        pass
    print("closed")
except socket.timeout:
    print("open")
EOF
}

# cat on a raw terminal keeps every byte it gets.
dk run -dit --name raw busybox sh -c 'stty raw -echo; exec cat >/tmp/in' >/dev/null ||
    fail "run raw"
wait_for 10 "cat in raw" sh -c "docker top raw | grep -q ' cat$'"
ATT="/containers/raw/attach?stream=1&stdin=1&stdout=1&stderr=1"
# The default keys split across two writes; a lone ctrl-p before them goes through.
assert_eq "$(hijack "$ATT" "" "b'ab\\x10'" "b'c\\x10'" "b'\\x11'")" closed \
    "the stream after ctrl-p ctrl-q split across writes"
running raw "after a raw client detached"
assert_eq "$(dk exec raw od -An -c /tmp/in | tr -s ' ')" " a b 020 c" \
    "what cat got before the keys"
# detachKeys: ctrl-a,a; ctrl-a then b is not the sequence and goes through in order.
assert_eq "$(hijack "$ATT&detachKeys=ctrl-a,a" "" "b'd\\x01'" "b'b'" "b'\\x01'" "b'a'")" \
    closed "the stream after ctrl-a a"
assert_eq "$(dk exec raw od -An -c /tmp/in | tr -s ' ')" " a b 020 c d 001 b" \
    "what cat got before ctrl-a a"
# Without the keys the stream stays; ending the input detaches too (a TTY keeps its stdin).
assert_eq "$(hijack "$ATT&detachKeys=ctrl-a,a" "" "b'e\\x10\\x11f'")" open \
    "the stream after ctrl-p ctrl-q when the keys are ctrl-a,a"
running raw "after a raw client left"
assert_eq "$(dk exec raw od -An -c /tmp/in | tr -s ' ')" " a b 020 c d 001 b e 020 021 f" \
    "what cat got with other keys"

# exec with DetachKeys.
EXEC=$(ucurl -X POST -H 'Content-Type: application/json' \
    -d '{"Cmd":["sh","-c","stty raw -echo; exec cat >/tmp/ex"],"Tty":true,"AttachStdin":true,"AttachStdout":true,"DetachKeys":"ctrl-x"}' \
    http://x/containers/raw/exec | sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
[ -n "$EXEC" ] || fail "exec create"
assert_eq "$(hijack "/exec/$EXEC/start" '{"Tty":true}' "b'\\x10\\x11g'" "b'\\x18'")" closed \
    "the exec stream after ctrl-x"
assert_eq "$(ucurl "http://x/exec/$EXEC/json" | grep -o '"Running":[a-z]*')" '"Running":true' \
    "the exec runs on after its client detached"
assert_eq "$(dk exec raw od -An -c /tmp/ex | tr -s ' ')" " 020 021 g" "what the exec got"
code=$(ucurl -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Cmd":["true"],"DetachKeys":"ctrl-"}' http://x/containers/raw/exec)
assert_eq "$code" 400 "exec create with DetachKeys ctrl-"
assert_contains "$(cat "$T/body")" "Invalid escape keys (ctrl-) provided"
# Without a TTY there are no detach keys (Docker's rule): they reach the command.
dk run -di --name plain busybox sh -c 'exec cat >/tmp/in' >/dev/null || fail "run plain"
assert_eq "$(hijack "/containers/plain/attach?stream=1&stdin=1&stdout=1" "" "b'h\\x10\\x11i'")" \
    open "a stream without a TTY after ctrl-p ctrl-q"
wait_for 10 "plain's input" sh -c "docker exec plain od -An -c /tmp/in | grep -q i"
assert_eq "$(dk exec plain od -An -c /tmp/in | tr -s ' ')" " h 020 021 i" \
    "what cat got without a TTY"

# --- attach once more; exit ends the container ------------------------------------------

tty_start att3 "docker attach sx"
sleep 0.5
tm send-keys -t att3 'echo six-$((6*7))' Enter
tty_expect att3 "six-42"
tm send-keys -t att3 'exit 3' Enter
assert_eq "$(tty_rc att3)" 3 "docker attach, then exit 3"
assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' sx)" "exited 3" "sx after exit"

# --- daemon.json's detach-keys: the default when the client names none -------------------

echo '{"detach-keys": "ctrl-x,ctrl-y"}' >"$T/daemon.json"
# berthd restarts with the waits of the detached CLIs and the attach of "plain" still open.
stop_berthd
start_berthd
assert_eq "$(hijack "$ATT" "" "b'j\\x10\\x11k\\x18'" "b'\\x19'")" closed \
    "the stream after the daemon's keys ctrl-x ctrl-y"
running raw "after detaching with the daemon's keys"
assert_eq "$(dk exec raw od -An -c /tmp/in | tr -s ' ')" \
    " a b 020 c d 001 b e 020 021 f j 020 021 k" "what cat got before the daemon's keys"
# A client's own keys still win.
assert_eq "$(hijack "$ATT&detachKeys=ctrl-p,ctrl-q" "" "b'\\x10\\x11'")" closed \
    "the stream after ctrl-p ctrl-q asked for by the client"
echo '{"detach-keys": "ctrl-x,"}' >"$T/bad.json"
rc=0
timeout 20 "$BERTHD" daemon -H "unix://$T/bad.sock" --data-root "$T/bad-data" \
    --exec-root "$T/bad-exec" --config-file "$T/bad.json" 2>"$T/bad-daemon.err" || rc=$?
[ "$rc" != 0 ] || fail "berthd started with invalid detach-keys in daemon.json"
assert_contains "$(cat "$T/bad-daemon.err")" 'detach-keys' "berthd's message"
assert_contains "$(cat "$T/bad-daemon.err")" 'unknown key ""' "berthd's message"
echo '{}' >"$T/daemon.json"

finish
echo "PASS test_berthd_detach"
