#!/usr/bin/env bash
# berthd as a docker-compatible client (`berthd ps`, `berthd run ...`) against a test berthd,
# over its unix socket and over mutual-TLS TCP with certificates made by berth: version,
# info, import, images, run (--rm, exit codes, -d, -it on a real terminal), ps, logs, exec,
# stop, start, rm, inspect, tag, rmi, save/load, docker's error messages and exit codes; a
# few outputs compared with the docker CLI's; a wrong CA fails and never falls back to
# plaintext. Needs root, busybox-static, tmux and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

bc() {
    timeout 60 "$BERTHD" "$@"
}

# client_flow TAG: the client's everyday commands against whatever DOCKER_HOST points at.
# Expects the image busybox:latest; leaves it and no containers.
client_flow() {
    local tag=$1 id out rc port

    out=$(bc version) || fail "$tag: berthd version: $out"
    assert_contains "$out" "Server: berth"
    assert_contains "$out" "  Version:          $("$BERTHD" --version | sed -n 's/^berthd version \([^,]*\),.*/\1/p')"
    out=$(bc info) || fail "$tag: berthd info: $out"
    assert_contains "$out" "Docker Root Dir: $T/data"

    # run --rm: output, stderr, exit codes (docker's 125/126/127 included).
    assert_eq "$(bc run --rm busybox echo hi)" hi "$tag: run --rm echo hi"
    assert_eq "$(bc run --rm busybox sh -c 'echo out; echo err >&2' 2>&1 >/dev/null)" err \
        "$tag: stderr of run"
    rc=0
    bc run --rm busybox sh -c 'exit 3' || rc=$?
    assert_eq "$rc" 3 "$tag: exit code 3"
    rc=0
    bc run --rm busybox nosuchcommand 2>"$T/err" || rc=$?
    assert_eq "$rc" 127 "$tag: exit code of a missing command"
    assert_contains "$(cat "$T/err")" 'executable file not found in $PATH'
    rc=0
    bc run --rm nosuch:img true 2>"$T/err" || rc=$?
    assert_eq "$rc" 125 "$tag: exit code of run with a missing image"
    assert_contains "$(cat "$T/err")" "Unable to find image 'nosuch:img' locally"
    assert_contains "$(cat "$T/err")" "Error response from daemon: No such image: nosuch:img"
    assert_eq "$(seq 1 300 | bc run --rm -i busybox wc -l)" 300 "$tag: stdin through run -i"
    assert_eq "$(bc run --rm busybox sh -c 'seq 1 20000' | tail -n 1)" 20000 "$tag: a long stream"
    [ -z "$(bc ps -aq)" ] || fail "$tag: run --rm left containers: $(bc ps -a)"

    # run -d, ps, logs, exec, stop, start, rm -f.
    port=$(free_port)
    local ticker='trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'
    id=$(bc run -d --name t1 -p "127.0.0.1:$port:80" -e A=b busybox sh -c "$ticker") ||
        fail "$tag: run -d: $id"
    [[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "$tag: run -d printed [$id]"
    out=$(bc ps)
    assert_contains "$(echo "$out" | head -n 1)" \
        "CONTAINER ID   IMAGE     COMMAND                    CREATED"
    assert_contains "$out" "${id:0:12}   busybox   \"sh -c trap \\\"exit 0\\\"…\""
    assert_contains "$out" "127.0.0.1:$port->80/tcp   t1"
    assert_eq "$(bc ps -q)" "${id:0:12}" "$tag: ps -q"
    assert_eq "$(bc ps -q --no-trunc)" "$id" "$tag: ps -q --no-trunc"
    assert_eq "$(bc ps -q | sort)" "$(dk ps -q | sort)" "$tag: ps -q like docker's"
    _has_tick() { bc logs "$1" 2>/dev/null | grep -cx "tick $2" >/dev/null; }
    wait_for 20 "$tag: t1 to log tick 3" _has_tick t1 3
    assert_eq "$(bc logs t1 | head -n 2 | tr '\n' ' ')" "tick 0 tick 1 " "$tag: logs"
    assert_eq "$(bc logs --tail 1 t1 | wc -l)" 1 "$tag: logs --tail 1"
    [[ "$(bc logs -t t1 | head -n 1)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z\ tick\ 0$ ]] ||
        fail "$tag: logs -t: $(bc logs -t t1 | head -n 1)"
    out=$(timeout 5 "$BERTHD" logs -f t1 | head -n 40 | tail -n 1) || true
    [[ "$out" =~ ^tick\ [0-9]+$ ]] || fail "$tag: logs -f printed [$out]"
    assert_eq "$(bc exec t1 sh -c 'echo exec $((2+3)) $A')" "exec 5 b" "$tag: exec"
    rc=0
    bc exec t1 sh -c 'exit 6' || rc=$?
    assert_eq "$rc" 6 "$tag: exit code of exec"
    assert_eq "$(echo piped | bc exec -i t1 cat)" piped "$tag: exec -i"
    assert_eq "$(bc exec -u nobody -w /tmp t1 sh -c 'id -u; pwd' | tr '\n' ' ')" "65534 /tmp " \
        "$tag: exec -u -w"
    assert_eq "$(bc stop -t 5 t1)" t1 "$tag: stop prints the name"
    assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' t1)" "exited 0" \
        "$tag: state after stop"
    assert_contains "$(bc ps -a)" "Exited (0)"
    [ -z "$(bc ps -q)" ] || fail "$tag: ps lists a stopped container"
    assert_eq "$(bc start t1)" t1 "$tag: start prints the name"
    assert_eq "$(dk inspect -f '{{.State.Status}}' t1)" running "$tag: state after start"

    # inspect: a JSON array like docker's; containers and images.
    out=$(bc inspect t1) || fail "$tag: inspect t1"
    assert_eq "$(echo "$out" | python3 -c 'import json,sys; a=json.load(sys.stdin); print(len(a), a[0]["Id"], a[0]["Name"], a[0]["State"]["Status"])')" \
        "1 $id /t1 running" "$tag: inspect"
    assert_eq "$(echo "$out" | head -c 7)" "$(printf '[\n    {')" "$tag: inspect's indentation"
    assert_eq "$(bc inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RepoTags"])')" \
        "['busybox:latest']" "$tag: inspect an image"
    assert_eq "$(bc rm -f t1)" t1 "$tag: rm -f"
    rc=0
    out=$(bc inspect t1 2>"$T/err") || rc=$?
    assert_eq "$rc:$out" "1:[]" "$tag: inspect of a missing object"
    assert_eq "$(cat "$T/err")" "Error: No such object: t1" "$tag: inspect's error"

    # start -a: output and exit code; rm.
    dk create --name sa busybox sh -c 'echo started-$((6*7)); exit 4' >/dev/null
    rc=0
    out=$(bc start -a sa) || rc=$?
    assert_eq "$out $rc" "started-42 4" "$tag: start -a"
    assert_eq "$(bc rm sa)" sa "$tag: rm"

    # errors: docker's messages and exit code 1.
    for cmd in "rm nosuch" "stop nosuch" "start nosuch" "logs nosuch" "exec nosuch true"; do
        rc=0
        bc $cmd 2>"$T/err" || rc=$?
        assert_eq "$rc $(cat "$T/err")" "1 Error response from daemon: No such container: nosuch" \
            "$tag: berthd $cmd"
    done
    rc=0
    bc rmi nosuch 2>"$T/err" || rc=$?
    assert_eq "$rc $(cat "$T/err")" "1 Error response from daemon: No such image: nosuch:latest" \
        "$tag: rmi of a missing image"

    # run -it on a real terminal: input, output, its size, the exit code.
    tty_start "it-$tag" "'$BERTHD' run -it --rm busybox sh"
    tty_expect "it-$tag" "/ #"
    tm send-keys -t "it-$tag" 'echo hi-$((6*7))' Enter
    tty_expect "it-$tag" "hi-42"
    tm send-keys -t "it-$tag" 'stty size' Enter
    tty_expect "it-$tag" "30 100"
    tm resize-window -t "it-$tag" -x 90 -y 25
    tm send-keys -t "it-$tag" 'stty size' Enter
    tty_expect "it-$tag" "25 90"
    tm send-keys -t "it-$tag" 'tty; exit 5' Enter
    assert_eq "$(tty_rc "it-$tag")" 5 "$tag: exit code of run -it"

    # exec -it on a real terminal.
    bc run -d --name x1 busybox sleep 300 >/dev/null || fail "$tag: run -d x1"
    tty_start "exec-$tag" "'$BERTHD' exec -it x1 sh"
    tty_expect "exec-$tag" "/ #"
    tm send-keys -t "exec-$tag" 'tty; echo ex-$((5*5))' Enter
    tty_expect "exec-$tag" "ex-25"
    tty_expect "exec-$tag" "/dev/pts/"
    tm send-keys -t "exec-$tag" 'exit 9' Enter
    assert_eq "$(tty_rc "exec-$tag")" 9 "$tag: exit code of exec -it"
    bc rm -f x1 >/dev/null
}

[ -f "$T/busybox.tar" ] || busybox_tar "$T/busybox.tar"
PORT=$(free_port)
$BERTH create -d none --url "tcp://127.0.0.1:$PORT" m1 >"$T/create.log" 2>&1 ||
    fail "berth create: $(cat "$T/create.log")"
C=$BERTH_STORAGE_PATH/certs
M=$BERTH_STORAGE_PATH/machines/m1
start_berthd -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$C/ca.pem" \
    --tlscert "$M/server.pem" --tlskey "$M/server-key.pem"

# --- over the unix socket ----------------------------------------------------------------
export DOCKER_HOST=unix://$SOCK

# import (file and stdin, with -c), images, tag, rmi.
img=$(bc import -c 'CMD ["sh"]' "$T/busybox.tar" busybox:latest) || fail "import: $img"
[[ "$img" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "import printed [$img]"
img2=$(bc import - imp:2 <"$T/busybox.tar") || fail "import -: $img2"
out=$(bc images)
assert_eq "$(echo "$out" | head -n 1)" "REPOSITORY   TAG       IMAGE ID       CREATED                  SIZE" \
    "images header"
assert_contains "$out" "busybox      latest    ${img:7:12}"
assert_eq "$(bc images -q | sort)" "$(dk images -q | sort)" "images -q like docker's"
assert_eq "$(bc tag busybox bb:two)" "" "tag"
assert_contains "$(bc images bb)" "bb           two       ${img:7:12}"
assert_eq "$(bc rmi bb:two)" "Untagged: bb:two" "rmi of a tag"
out=$(bc rmi imp:2) || fail "rmi imp:2: $out"
assert_contains "$out" "Deleted: $img2"

client_flow unix

# save and load round trip (file and stdin); rmi refused while a container uses the image.
bc save -o "$T/saved.tar" busybox || fail "save -o"
bc save busybox >"$T/saved2.tar" || fail "save to stdout"
cmp -s "$T/saved.tar" "$T/saved2.tar" || fail "save -o and save > differ"
id=$(dk create busybox true)
expect_fail bc rmi busybox
assert_contains "$ERR" "conflict"
dk rm "$id" >/dev/null
out=$(bc rmi busybox) || fail "rmi busybox: $out"
assert_contains "$out" "Deleted: $img"
assert_eq "$(bc load -i "$T/saved.tar")" "Loaded image: busybox:latest" "load -i"
assert_eq "$(bc images -q)" "${img:7:12}" "the loaded image"
assert_eq "$(bc load <"$T/saved2.tar")" "Loaded image: busybox:latest" "load from stdin"
assert_eq "$(bc run --rm busybox echo loaded)" loaded "run the loaded image"

# No daemon: docker's message.
expect_fail env DOCKER_HOST="unix://$T/none.sock" "$BERTHD" ps
assert_eq "$ERR" "Cannot connect to the Docker daemon at unix://$T/none.sock. Is the docker daemon running?"
# -H wins over DOCKER_HOST.
assert_eq "$(env DOCKER_HOST="unix://$T/none.sock" "$BERTHD" -H "unix://$SOCK" ps -aq)" "" "-H"

# --- over mutual TLS -----------------------------------------------------------------------
eval "$($BERTH env --shell bash m1)"
assert_eq "$DOCKER_TLS_VERIFY" 1 "DOCKER_TLS_VERIFY from berth env"
client_flow tls
assert_eq "$(bc images -q)" "$(dk images -q)" "images -q over TLS like docker's"

# A server certificate from another CA: refused, and never retried in plaintext.
mkdir -p "$T/otherca"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
    -keyout "$T/otherca/ca-key.pem" -out "$T/otherca/ca.pem" 2>/dev/null
cp "$DOCKER_CERT_PATH/cert.pem" "$DOCKER_CERT_PATH/key.pem" "$T/otherca/"
expect_fail env DOCKER_CERT_PATH="$T/otherca" "$BERTHD" ps
assert_contains "$ERR" "tls: failed to verify certificate"
# The host name is checked too: the certificate is for 127.0.0.1 and localhost.
expect_fail env DOCKER_HOST="tcp://127.0.0.2:$PORT" "$BERTHD" ps
# Without client certificates: an error, not a plaintext request.
mkdir -p "$T/cacertonly" && cp "$DOCKER_CERT_PATH/ca.pem" "$T/cacertonly/"
expect_fail env DOCKER_CERT_PATH="$T/cacertonly" "$BERTHD" ps
assert_contains "$ERR" "cert.pem"
# Plain TCP to the TLS port (DOCKER_TLS_VERIFY unset) does not get an answer either.
expect_fail env -u DOCKER_TLS_VERIFY "$BERTHD" ps

export DOCKER_HOST=unix://$SOCK
unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH
finish
echo "test_berthd_client: all checks passed"
