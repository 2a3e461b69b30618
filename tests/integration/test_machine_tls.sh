#!/usr/bin/env bash
# berth's certificates are real: they verify with openssl, carry the right
# SANs, and the docker CLI completes mutual TLS with berthd serving them.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
export DOCKER_CONFIG=$T/dockercfg

PORT=$(free_port)
$BERTH create -d none --url "tcp://127.0.0.1:$PORT" --tls-san build.example.test \
    --tls-san 10.99.0.7 m1 >/dev/null 2>&1 || fail "create m1"
C=$BERTH_STORAGE_PATH/certs
M=$BERTH_STORAGE_PATH/machines/m1

openssl verify -CAfile "$C/ca.pem" "$C/cert.pem" >/dev/null || fail "client cert does not verify"
openssl verify -CAfile "$C/ca.pem" -purpose sslserver "$M/server.pem" >/dev/null ||
    fail "server cert does not verify for TLS server use"
openssl verify -CAfile "$C/ca.pem" -purpose sslclient "$C/cert.pem" >/dev/null ||
    fail "client cert does not verify for TLS client use"
sans=$(openssl x509 -in "$M/server.pem" -noout -ext subjectAltName)
for want in "IP Address:127.0.0.1" "DNS:localhost" "DNS:build.example.test" "IP Address:10.99.0.7"; do
    assert_contains "$sans" "$want" "server cert SANs"
done
# Validity: back-dated a little, about three years ahead.
start=$(date -d "$(openssl x509 -in "$M/server.pem" -noout -startdate | cut -d= -f2)" +%s)
end=$(date -d "$(openssl x509 -in "$M/server.pem" -noout -enddate | cut -d= -f2)" +%s)
now=$(date +%s)
[ $((now - start)) -ge 60 ] && [ $((now - start)) -lt 3600 ] || fail "notBefore is not slightly back-dated"
[ $(((end - now) / 86400)) -ge 1000 ] || fail "server cert valid for less than 1000 days"

# berthd serves the machine's server certificate and trusts berth's CA.
mkdir -p "$T/data" "$T/exec"
bg "$BERTHD" daemon -H "tcp://127.0.0.1:$PORT" -H "unix://$T/berthd.sock" --tlsverify \
    --tlscacert "$C/ca.pem" --tlscert "$M/server.pem" --tlskey "$M/server-key.pem" \
    --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/berthd.pid" 2>"$T/berthd.log"
wait_for 10 "berthd on the unix socket" test -S "$T/berthd.sock"

eval "$($BERTH env --shell bash m1)"
v=$(docker version --format '{{.Server.Version}}') || fail "docker version over mutual TLS"
assert_eq "$v" "$("$BERTHD" --version | sed -n "s/^berthd version \([^,]*\),.*/\1/p")" "server version"
assert_contains "$($BERTH ls --format '{{.Name}} {{.DockerVersion}} [{{.Error}}]')" "m1 v$v []"
assert_eq "$($BERTH version m1)" "$v"
# The printed `config` flags work as given.
docker $($BERTH config m1 | tr -d '"') version --format '{{.Server.Version}}' >/dev/null ||
    fail "docker with berth config flags"

# A client without a certificate, or with one from another CA, is refused.
unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH
if curl -s --max-time 5 --cacert "$C/ca.pem" "https://127.0.0.1:$PORT/_ping" >/dev/null; then
    fail "a client without a certificate was accepted"
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=rogue \
    -keyout "$T/rogue-key.pem" -out "$T/rogue.pem" 2>/dev/null
if curl -s --max-time 5 --cacert "$C/ca.pem" --cert "$T/rogue.pem" --key "$T/rogue-key.pem" \
    "https://127.0.0.1:$PORT/_ping" >/dev/null; then
    fail "a client certificate from another CA was accepted"
fi
echo ok
