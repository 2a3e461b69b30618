#!/usr/bin/env bash
# The docker CLI's everyday commands against berthd over mutual-TLS TCP, with certificates
# made by berth itself (`berth create -d none`) and the environment from `berth env`:
# version, info, import, images, run (--rm, -d, -it on a real terminal, exit codes), ps,
# logs, exec, stop, start, attach, start -a, inspect, save/load, rmi, rm -f (cli_core_flow),
# plus docker-py over the same TLS. Clients without a good certificate get nothing. Needs
# root, busybox-static, tmux, the docker CLI and python3 with docker-py.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

PORT=$(free_port)
$BERTH create -d none --url "tcp://127.0.0.1:$PORT" m1 >"$T/create.log" 2>&1 ||
    fail "berth create: $(cat "$T/create.log")"
C=$BERTH_STORAGE_PATH/certs
M=$BERTH_STORAGE_PATH/machines/m1
start_berthd -H "tcp://127.0.0.1:$PORT" --tlsverify --tlscacert "$C/ca.pem" \
    --tlscert "$M/server.pem" --tlskey "$M/server-key.pem"

eval "$($BERTH env --shell bash m1)"
assert_eq "$DOCKER_HOST" "tcp://127.0.0.1:$PORT" "DOCKER_HOST from berth env"
assert_eq "$DOCKER_TLS_VERIFY" 1 "DOCKER_TLS_VERIFY from berth env"
_tls_up() { dk version --format '{{.Server.Version}}'; }
wait_for 20 "berthd on tcp://127.0.0.1:$PORT" _tls_up

cli_core_flow tls

# A long output stream and stdin through the TLS hijack.
assert_eq "$(dk run --rm busybox sh -c 'seq 1 20000' | tail -n 1)" 20000 "a long stream over TLS"
assert_eq "$(seq 1 500 | dk run --rm -i busybox sh -c 'wc -l')" 500 "stdin over TLS"
assert_eq "$(printf 'a\nb\n' | dk run --rm -i busybox cat)" "$(printf 'a\nb')" "-i cat over TLS"

# docker-py over the same mutual TLS, configured from berth env's variables. (requests lets
# REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override the CA docker-py sets: keep them out.)
OUT=$(env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE timeout 60 "$DOCKER_PY" -c '
import docker
c = docker.from_env()
print(c.containers.run("busybox", "echo py-over-tls", remove=True).decode().strip())
k = c.containers.run("busybox", "sleep 30", detach=True)
print(k.exec_run("echo exec-over-tls").output.decode().strip())
k.remove(force=True)
print(len(c.containers.list(all=True)))
') || fail "docker-py over TLS: $OUT"
assert_eq "$OUT" "$(printf 'py-over-tls\nexec-over-tls\n0')" "docker-py over TLS"

# Without the client certificate: refused.
if curl -s --max-time 5 --cacert "$C/ca.pem" "https://127.0.0.1:$PORT/_ping" >/dev/null; then
    fail "a client without a certificate was accepted"
fi
expect_fail env DOCKER_CERT_PATH="$T/nowhere" timeout 30 docker version
# a client offering a saved session (TLS 1.2 session id and TLS 1.3 ticket) resumes it
for v in -tls1_2 -tls1_3; do
    rm -f "$T/sess"
    for i in 1 2; do
        sessarg=(-sess_out "$T/sess")
        [ -f "$T/sess" ] && sessarg=(-sess_in "$T/sess")
        out=$(printf 'GET /_ping HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client $v -quiet -ign_eof \
            -connect "127.0.0.1:$PORT" -CAfile "$C/ca.pem" -cert "$C/cert.pem" -key "$C/key.pem" \
            "${sessarg[@]}" 2>&1) || fail "openssl s_client $v round $i: $out"
        assert_contains "$out" "OK" "_ping over $v, round $i"
    done
    out=$(printf 'GET /_ping HTTP/1.0\r\n\r\n' | timeout 20 openssl s_client $v -ign_eof \
        -connect "127.0.0.1:$PORT" -CAfile "$C/ca.pem" -cert "$C/cert.pem" -key "$C/key.pem" \
        -sess_in "$T/sess" 2>&1) || fail "openssl s_client $v resumption: $out"
    assert_contains "$out" "Reused" "session resumed over $v"
done

finish
echo "test_berthd_tls_cli: all checks passed"
