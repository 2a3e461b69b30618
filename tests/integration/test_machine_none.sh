#!/usr/bin/env bash
# The machine commands against a `none` machine, with docker-machine's exact output.
source "$(dirname "$0")/lib.sh"

B=$BERTH
$B create -d none --url tcp://127.0.0.1:2376 --tls-san extra.test --engine-label env=test m1 \
    >/dev/null 2>&1 || fail "create m1"
M=$BERTH_STORAGE_PATH/machines/m1

# Store layout and modes.
for f in config.json ca.pem cert.pem key.pem server.pem server-key.pem; do
    [ -f "$M/$f" ] || fail "missing $M/$f"
done
for f in "$M/config.json" "$M/key.pem" "$M/server-key.pem" "$BERTH_STORAGE_PATH/certs/ca-key.pem"; do
    assert_eq "$(stat -c %a "$f")" 600 "mode of $f"
done
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$M/config.json" || fail "config.json is not JSON"

# A second create with the same name is refused and changes nothing.
before=$(sha256sum "$M/config.json")
expect_fail $B create -d none --url tcp://127.0.0.1:2377 m1
assert_contains "$ERR" "machine m1 already exists"
assert_eq "$(sha256sum "$M/config.json")" "$before" "config after refused create"

# Bad names and bad flags.
expect_fail $B create -d none --url tcp://127.0.0.1:2376 'bad_name'
assert_contains "$ERR" 'invalid machine name "bad_name"'
expect_fail $B create -d none m2
assert_contains "$ERR" "--url is required"
expect_fail $B create -d none --url http://x:1 m2
assert_contains "$ERR" "scheme must be tcp://"
[ ! -e "$BERTH_STORAGE_PATH/machines/m2" ] || fail "failed create left machines/m2 behind"
expect_fail $B create -d none --bogus 1 m2
assert_contains "$ERR" "unknown or incomplete option '--bogus'"

# ls: table, -q, filters, format, json.
out=$($B ls -t 2)
assert_contains "$(head -1 <<<"$out")" "NAME   ACTIVE   DRIVER   STATE     URL"
assert_contains "$out" "m1     -        none     Running   tcp://127.0.0.1:2376"
assert_eq "$($B ls -q)" "m1"
assert_eq "$($B ls -q --filter driver=none)" "m1"
assert_eq "$($B ls -q --filter driver=generic)" ""
assert_eq "$($B ls -q --filter state=running)" "m1"
assert_eq "$($B ls -q --filter state=Stopped)" ""
assert_eq "$($B ls -q --filter name='^m[0-9]$')" "m1"
assert_eq "$($B ls -q --filter label=env=test)" "m1"
assert_eq "$($B ls -q --filter label=env=prod)" ""
assert_eq "$($B ls --format '{{.Name}} {{.DriverName}} {{.State}} {{.URL}}')" \
    "m1 none Running tcp://127.0.0.1:2376"
assert_eq "$($B ls --format json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Name"])')" m1
expect_fail $B ls --filter color=red
assert_contains "$ERR" 'unsupported filter "color"'
# ACTIVE follows DOCKER_HOST.
assert_eq "$(DOCKER_HOST=tcp://127.0.0.1:2376 $B ls --format '{{.Active}}')" "*"
assert_eq "$(DOCKER_HOST=tcp://127.0.0.1:2376 $B active)" "m1"
expect_fail env DOCKER_HOST=tcp://127.0.0.1:9 $B active

# inspect, url, ip, status, config.
assert_eq "$($B inspect -f '{{.Driver.IPAddress}}' m1)" 127.0.0.1
assert_eq "$($B inspect -f '{{.DriverName}} {{.Name}} {{.Driver.URL}}' m1)" "none m1 tcp://127.0.0.1:2376"
assert_eq "$($B inspect -f '{{json .HostOptions.AuthOptions.ServerCertSANs}}' m1)" '["extra.test"]'
assert_eq "$($B inspect m1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["HostOptions"]["AuthOptions"]["StorePath"])')" "$M"
assert_eq "$($B url m1)" tcp://127.0.0.1:2376
assert_eq "$($B ip m1)" 127.0.0.1
assert_eq "$($B status m1)" Running
C=$BERTH_STORAGE_PATH/certs
assert_eq "$($B config m1)" "--tlsverify --tlscacert=\"$C/ca.pem\" --tlscert=\"$C/cert.pem\" --tlskey=\"$C/key.pem\" -H=tcp://127.0.0.1:2376"
expect_fail $B inspect nosuch
assert_contains "$ERR" "machine nosuch does not exist"

# env in every shell, line for line in docker-machine's format.
hint() { printf '%s Run this command to configure your shell: \n%s %s\n' "$1" "$1" "$2"; }
check_env() { # SHELLNAME EXPECTED...
    local sh=$1
    shift
    local got want
    got=$($B env --shell "$sh" m1)
    want=$(printf '%s\n' "$@")
    assert_eq "$got" "$want" "env --shell $sh"
}
V=(DOCKER_TLS_VERIFY 1 DOCKER_HOST tcp://127.0.0.1:2376 DOCKER_CERT_PATH "$M" DOCKER_MACHINE_NAME m1)
lines() { # FORMAT: one line per variable pair
    local fmt=$1 i
    for ((i = 0; i < ${#V[@]}; i += 2)); do printf "$fmt\n" "${V[i]}" "${V[i + 1]}"; done
}
for sh in bash sh zsh; do
    check_env $sh "$(lines 'export %s="%s"')" "$(hint '#' "eval \$($B env --shell $sh m1)")"
done
check_env fish "$(lines 'set -gx %s "%s";')" "$(hint '#' "eval ($B env --shell fish m1)")"
check_env powershell "$(lines '$Env:%s = "%s"')" "$(hint '#' "& $B env --shell powershell m1 | Invoke-Expression")"
check_env cmd "$(lines 'SET %s=%s')" "$(hint REM "$(printf '\t@FOR /f "tokens=*" %%i IN (%s) DO @%%i' "'$B env --shell cmd m1'")")"
check_env tcsh "$(lines 'setenv %s "%s";')" "$(hint : "eval \`$B env --shell tcsh m1\`")"
check_env emacs "$(lines '(setenv "%s" "%s")')" "$(hint ';;' "(with-temp-buffer (shell-command \"$B env --shell emacs m1\" (current-buffer)) (eval-buffer))")"
# Shell detection from $SHELL, and its absence.
assert_eq "$(SHELL=/usr/bin/fish $B env m1 | head -1)" 'set -gx DOCKER_TLS_VERIFY "1";'
expect_fail env -u SHELL $B env m1
assert_contains "$ERR" "SHELL is not set"

# env -u in every shell.
ulines() {
    local fmt=$1 i
    for ((i = 0; i < ${#V[@]}; i += 2)); do printf "$fmt\n" "${V[i]}"; done
}
check_unset() {
    local sh=$1
    shift
    assert_eq "$($B env --shell "$sh" -u)" "$(printf '%s\n' "$@")" "env -u --shell $sh"
}
check_unset bash "$(ulines 'unset %s')" "$(hint '#' "eval \$($B env --shell bash -u)")"
check_unset fish "$(ulines 'set -e %s;')" "$(hint '#' "eval ($B env --shell fish -u)")"
check_unset powershell "$(ulines 'Remove-Item Env:\\\\%s')" "$(hint '#' "& $B env --shell powershell -u | Invoke-Expression")"
check_unset cmd "$(ulines 'SET %s=')" "$(hint REM "$(printf '\t@FOR /f "tokens=*" %%i IN (%s) DO @%%i' "'$B env --shell cmd -u'")")"
check_unset tcsh "$(ulines 'unsetenv %s;')" "$(hint : "eval \`$B env --shell tcsh -u\`")"
check_unset emacs "$(ulines '(setenv "%s" nil)')" "$(hint ';;' "(with-temp-buffer (shell-command \"$B env --shell emacs -u\" (current-buffer)) (eval-buffer))")"
expect_fail $B env -u m1
assert_contains "$ERR" "expected no machine name"

# --no-proxy appends the IP once.
assert_contains "$(NO_PROXY=example.com $B env --shell bash --no-proxy m1)" 'export NO_PROXY="example.com,127.0.0.1"'
assert_contains "$(no_proxy=127.0.0.1 $B env --shell bash --no-proxy m1)" 'export no_proxy="127.0.0.1"'

# The exported variables reach the docker CLI's configuration.
eval "$($B env --shell bash m1)"
assert_eq "$DOCKER_HOST" tcp://127.0.0.1:2376
assert_eq "$DOCKER_CERT_PATH" "$M"
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_MACHINE_NAME

# No name means "default"; several names act on each.
expect_fail $B status
assert_contains "$ERR" "machine default does not exist"
$B create -d none --url tcp://127.0.0.2:2376 m2 >/dev/null 2>&1 || fail "create m2"
assert_eq "$($B ip m1 m2 | tr '\n' ' ')" "127.0.0.1 127.0.0.2 "
assert_eq "$($B ls -q | tr '\n' ' ')" "m1 m2 "

# Lifecycle commands the none driver cannot do say so.
expect_fail $B stop m1
assert_contains "$ERR" "machine m1: stop: not supported by driver none"

# rm: asks without -y, refuses on "n", removes with -y.
expect_fail bash -c "echo n | $B rm m2"
assert_contains "$ERR" "not confirmed"
[ -d "$BERTH_STORAGE_PATH/machines/m2" ] || fail "rm without confirmation removed m2"
echo y | $B rm m2 >/dev/null || fail "rm with y"
$B rm -y m1 >/dev/null || fail "rm -y m1"
assert_eq "$($B ls -q)" ""
[ ! -e "$M" ] || fail "rm left $M"
expect_fail $B rm -y m1
assert_contains "$ERR" "machine m1 does not exist"

# help for every command, and create -d none --help lists the driver's flags.
for cmd in create ls inspect status ip url active env config start stop restart kill rm \
    regenerate-certs version; do
    $B help $cmd | grep -c "Usage: berth $cmd" >/dev/null || fail "help $cmd"
done
assert_contains "$($B create -d none --help)" "--url STRING"
assert_contains "$($B create --help)" "none"
echo ok
