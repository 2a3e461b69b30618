#!/usr/bin/env bash
# GET /events: `docker events` sees the lifecycle of a container (create, start, exec, stop,
# rm), image tag/untag, network and volume create/destroy in order with Docker's actor
# attributes; --since/--until replay the ring and end by themselves; filters; docker-py sees
# the old fields status/id/from; `docker-compose up` in the foreground returns when its one
# service exits by itself. Needs root, busybox-static, the docker CLI, docker-compose and
# python3-docker.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
command -v docker-compose >/dev/null || fail "docker-compose is missing (see tests/deps.sh check)"

export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
dk import "$T/busybox.tar" busybox:latest >/dev/null || fail "docker import"
T0=$(date +%s)

# --- a live stream -----------------------------------------------------------------------
# --since now: whatever happens before the client is connected is replayed, so no race
docker events --since "$(date +%s.%N)" --format '{{json .}}' >"$T/live.out" 2>"$T/live.err" &
EV=$!
_bg_pids+=("$EV")

dk create --name evc --label app=evtest --label tier=one busybox sleep 300 >/dev/null ||
    fail "create"
dk start evc >/dev/null || fail "start"
dk exec evc sh -c 'exit 3' && fail "exec should exit 3"
dk stop -t 1 evc >/dev/null || fail "stop"
dk rm evc >/dev/null || fail "rm"
dk tag busybox:latest busybox:evtag || fail "tag"
dk rmi busybox:evtag >/dev/null || fail "rmi"
dk network create evnet >/dev/null || fail "network create"
dk network rm evnet >/dev/null || fail "network rm"
dk volume create evvol >/dev/null || fail "volume create"
dk volume rm evvol >/dev/null || fail "volume rm"
_seen_last() { grep -q '"Type":"volume","Action":"destroy"' "$T/live.out"; }
wait_for 10 "the volume destroy event" _seen_last
kill "$EV"
sleep 1 # --until takes whole seconds here: past the last event
T1=$(date +%s)

check() { # check FILE PYTHON: run PYTHON with `ev` the list of events in FILE
    python3 -c "import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
$2" "$1" || fail "check on $1 failed: $(cat "$1")"
}
check "$T/live.out" '
seq = [(e["Type"], e["Action"].split(":")[0]) for e in ev]
want = [("container", a) for a in ["create", "start", "exec_create", "exec_start", "exec_die", "kill", "die", "stop", "destroy"]]
want += [("image", "tag"), ("image", "untag"), ("network", "create"), ("network", "destroy"), ("volume", "create"), ("volume", "destroy")]
it = iter(seq)
missing = [w for w in want if w not in it]
assert not missing, ("missing or out of order", missing, seq)
ctr = [e for e in ev if e["Type"] == "container"]
for e in ctr:
    a = e["Actor"]["Attributes"]
    assert a["name"] == "evc" and a["image"] == "busybox" and a["app"] == "evtest", e
    assert e["status"] == e["Action"] and e["id"] == e["Actor"]["ID"] and e["from"] == "busybox", e
    assert e["scope"] == "local" and e["time"] == e["timeNano"] // 10**9, e
die = [e for e in ctr if e["Action"] == "die"][0]
assert die["Actor"]["Attributes"]["exitCode"] == "137", die  # sleep as pid 1 ignores SIGTERM
kill = [e for e in ctr if e["Action"] == "kill"][0]
assert kill["Actor"]["Attributes"]["signal"] == "15", kill
xd = [e for e in ctr if e["Action"] == "exec_die"][0]
assert xd["Actor"]["Attributes"]["exitCode"] == "3" and xd["Actor"]["Attributes"]["execID"], xd
xc = [e for e in ctr if e["Action"].startswith("exec_create")][0]
assert xc["Action"] == "exec_create: sh -c exit 3", xc
tag = [e for e in ev if e["Action"] == "tag"][0]
assert tag["Actor"]["ID"].startswith("sha256:") and tag["Actor"]["Attributes"]["name"] == "busybox:evtag", tag
net = [e for e in ev if e["Type"] == "network" and e["Action"] == "create"][0]
assert net["Actor"]["Attributes"] == {"name": "evnet", "type": "bridge"}, net
vol = [e for e in ev if e["Type"] == "volume"][0]
assert vol["Actor"]["ID"] == "evvol" and vol["Actor"]["Attributes"]["driver"] == "local", vol
'
echo "live stream: ok"

# --- replay: --since/--until end by themselves ----------------------------------------------
timeout 10 docker events --since "$T0" --until "$T1" --format '{{json .}}' >"$T/replay.out" ||
    fail "docker events --since --until did not end by itself"
# The same events as the live stream saw, after the import that came before it.
missing=$(grep -vxF -f "$T/replay.out" "$T/live.out") && fail "replay lacks: $missing"
assert_contains "$(head -n 1 "$T/replay.out")" '"Action":"import"' "replay starts at --since"
# The CLI's duration form (it sends Unix seconds with a fraction).
timeout 10 docker events --since 10m --until 0s --format '{{.Action}}' >"$T/dur.out" ||
    fail "docker events --since 10m --until 0s"
grep -qx destroy "$T/dur.out" || fail "--since 10m: $(cat "$T/dur.out")"
# RFC 3339 from clients that send it.
since=$(date -u -d "@$T0" +%Y-%m-%dT%H:%M:%SZ)
out=$(ucurl "http://x/events?since=$since&until=$T1") || fail "curl events"
assert_contains "$out" '"Action":"create"' "RFC 3339 since"
# until in the past with nothing before it: an empty stream that ends.
out=$(ucurl "http://x/events?until=1") || fail "until=1"
assert_eq "$out" "" "until=1"
code=$(ucurl -o /dev/null -w '%{http_code}' "http://x/events?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D")
assert_eq "$code" 400 "unknown filter"
echo "replay: ok"

# --- filters: the CLI's map form -------------------------------------------------------------
timeout 10 docker events --since "$T0" --until "$T1" --filter type=container --filter event=die \
    --format '{{.Type}} {{.Action}} {{index .Actor.Attributes "exitCode"}}' >"$T/f.out" ||
    fail "filtered events"
assert_eq "$(cat "$T/f.out")" "container die 137" "type=container event=die"
timeout 10 docker events --since "$T0" --until "$T1" --filter label=tier=one --filter event=exec_start \
    --format '{{.Action}}' >"$T/f2.out" || fail "label filter"
assert_eq "$(cat "$T/f2.out")" "exec_start: sh -c exit 3" "label + exec_start prefix"
timeout 10 docker events --since "$T0" --until "$T1" --filter network=evnet --format '{{.Action}}' \
    >"$T/f3.out" || fail "network filter"
assert_eq "$(tr '\n' ' ' <"$T/f3.out")" "create destroy " "network=evnet"
timeout 10 docker events --since "$T0" --until "$T1" --filter image=busybox:evtag --format '{{.Action}}' \
    >"$T/f4.out" || fail "image filter"
assert_eq "$(tr '\n' ' ' <"$T/f4.out")" "tag untag " "image=busybox:evtag"
echo "filters: ok"

# --- docker-py: list-form filters and the old fields ---------------------------------------
out=$(py "
for e in c.api.events(since=$T0, until=$T1, decode=True, filters={'container': ['evc'], 'event': ['start', 'die']}):
    print(e['status'], e['id'][:12], e['from'], e['Actor']['Attributes']['name'])
") || fail "docker-py events: $out"
assert_eq "$(echo "$out" | awk '{print $1, $3, $4}' | tr '\n' ' ')" "start busybox evc die busybox evc " \
    "docker-py's events"
echo "docker-py: ok"

# --- docker-compose up in the foreground ---------------------------------------------------
mkdir -p "$T/proj"
cat >"$T/proj/docker-compose.yml" <<'YML'
version: "2"
services:
  once:
    image: busybox
    command: sh -c 'echo hello-from-once; sleep 1; exit 0'
YML
rc=0
out=$(cd "$T/proj" && timeout 60 docker-compose -p evproj up 2>&1) || rc=$?
assert_eq "$rc" 0 "docker-compose up (foreground) status: $out"
assert_contains "$out" "hello-from-once" "compose shows the service's output"
assert_contains "$out" "evproj_once_1 exited with code 0" "compose notices the exit"
(cd "$T/proj" && timeout 60 docker-compose -p evproj down >/dev/null 2>&1) || fail "compose down"
echo "compose up: ok"

finish
echo "test_berthd_events: all checks passed"
