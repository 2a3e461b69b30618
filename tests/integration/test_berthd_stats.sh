#!/usr/bin/env bash
# GET /containers/{id}/stats: `docker stats --no-stream` shows a busy container's CPU, its
# memory against the -m limit, its pids and the network traffic it made (a wget from an httpd
# container on the default bridge); docker-py's stats(stream=False) and a one-shot request
# carry Docker's fields; a stopped container gives zeroed stats; a streaming `docker stats`
# ends when its container is removed; SIGTERM to berthd with a stats stream connected still
# exits 0 at once. Run it with the normal build and with `make SANITIZE=1`. Needs root,
# busybox-static, the docker CLI and python3 with docker-py.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

"$DOCKER_PY" -c 'import docker' 2>/dev/null || fail "docker-py is missing (apt-get install python3-docker)"
export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
IMG=$(dk import "$T/busybox.tar" busybox:latest) || fail "docker import: $IMG"

mkdir -p "$T/www"
head -c 200000 /dev/urandom >"$T/www/blob"
dk run -d --name web -v "$T/www:/www:ro" busybox httpd -f -p 80 -h /www >/dev/null || fail "run web"
webip=$(dk inspect -f '{{.NetworkSettings.IPAddress}}' web)
[ -n "$webip" ] || fail "web has no address"
dk run -d --name busy -m 64m busybox sh -c 'while :; do :; done' >/dev/null || fail "run busy"
dk exec busy wget -qO /dev/null "http://$webip/blob" || fail "wget from web"

# --- docker stats --no-stream ----------------------------------------------------------------
out=$(dk stats --no-stream --format '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}' busy) ||
    fail "docker stats --no-stream: $out"
echo "docker stats: $out"
IFS='|' read -r name cpu mem pids net <<<"$out"
assert_eq "$name" busy "stats name"
cpu=${cpu%\%}
awk -v c="$cpu" 'BEGIN { exit !(c > 10) }' || fail "CPU % of a busy loop is $cpu"
case "$mem" in
"0B / "*) fail "memory usage is zero: $mem" ;;
*" / 64MiB") ;;
*) fail "memory usage/limit: $mem" ;;
esac
[ "$pids" -ge 1 ] || fail "pids: $pids"
case "$net" in
"0B / 0B") fail "no network traffic counted: $net" ;;
*kB*/* | *MB*/*) ;;
*) fail "network I/O after a 200 kB download: $net" ;;
esac

# --- one-shot and docker-py ------------------------------------------------------------------
body=$(ucurl "http://x/containers/busy/stats?stream=false&one-shot=true") || fail "one-shot"
echo "$body" | grep -q '"preread": *"0001-01-01T00:00:00Z"' || fail "one-shot has a preread: $body"
code=$(ucurl -o /dev/null -w '%{http_code}' "http://x/containers/busy/stats?one-shot=true")
assert_eq "$code" 400 "stream=true with one-shot=true"
code=$(ucurl -o /dev/null -w '%{http_code}' "http://x/containers/nope/stats?stream=false")
assert_eq "$code" 404 "stats of a missing container"

py '
s = c.containers.get("busy").stats(stream=False)
for k in ("read", "preread", "pids_stats", "cpu_stats", "precpu_stats", "memory_stats",
          "blkio_stats", "networks", "name", "id"):
    assert k in s, k
assert s["name"] == "/busy", s["name"]
assert s["pids_stats"]["current"] >= 1, s["pids_stats"]
cu = s["cpu_stats"]["cpu_usage"]
for k in ("total_usage", "usage_in_kernelmode", "usage_in_usermode"):
    assert k in cu, k
assert cu["total_usage"] > s["precpu_stats"]["cpu_usage"]["total_usage"], s
assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"], s
assert s["cpu_stats"]["online_cpus"] >= 1
assert "throttling_data" in s["cpu_stats"]
assert s["memory_stats"]["limit"] == 64 * 1024 * 1024, s["memory_stats"]
assert s["memory_stats"]["usage"] > 0 and s["memory_stats"]["stats"], s["memory_stats"]
assert isinstance(s["blkio_stats"]["io_service_bytes_recursive"], list)
eth0 = s["networks"]["eth0"]
for k in ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets",
          "tx_errors", "tx_dropped"):
    assert k in eth0, k
assert eth0["rx_bytes"] > 200000, eth0
s = c.containers.get("busy").stats(stream=True, decode=True)
first, second = next(s), next(s)
assert second["preread"] == first["read"], (first["read"], second["preread"])
s.close()
print("docker-py stats ok")
' || fail "docker-py stats"

# --- a stopped container: zeroed, like dockerd -----------------------------------------------
dk create --name idle busybox true >/dev/null || fail "create idle"
py '
s = c.containers.get("idle").stats(stream=False)
assert s["name"] == "/idle" and s["read"] == "0001-01-01T00:00:00Z", s
assert s["memory_stats"] == {} and s["cpu_stats"]["cpu_usage"]["total_usage"] == 0, s
' || fail "stats of a stopped container"

# --- a stream ends when its container is removed ---------------------------------------------
# berthd ends the response (as dockerd does). The docker CLI (28.x) itself keeps running,
# showing the row as "--", and its stream is over: it is killed here by its pid.
dk run -d --name short busybox sleep 1000 >/dev/null || fail "run short"
docker stats --format '{{.Name}} {{.PIDs}}' short >"$T/stream.out" 2>&1 &
STREAM=$!
_bg_pids+=("$STREAM")
curl -s -N --max-time 60 --unix-socket "$SOCK" -o "$T/short.out" "http://x/containers/short/stats" &
SHORT=$!
_bg_pids+=("$SHORT")
_streams() { grep -q "short 1" "$T/stream.out" && grep -q '"read"' "$T/short.out"; }
wait_for 20 "the stats streams of short" _streams
dk rm -f short >/dev/null || fail "rm short"
wait_for 10 "the stats stream to end after the removal" exited "$SHORT"
rc=0
wait "$SHORT" || rc=$?
assert_eq "$rc" 0 "curl exit status of a stats stream whose container was removed"
_dashes() { grep -q "short --" "$T/stream.out"; }
wait_for 10 "docker stats to show the removed container as --" _dashes
kill -KILL "$STREAM" # it ignores a first SIGINT/SIGTERM in this state
wait "$STREAM" 2>/dev/null || true

# --- SIGTERM with a stats stream connected -----------------------------------------------------
curl -s -N --max-time 60 --unix-socket "$SOCK" -o "$T/raw.out" "http://x/containers/busy/stats" &
RAW=$!
_bg_pids+=("$RAW")
_raw() { [ "$(grep -c '"read"' "$T/raw.out" 2>/dev/null)" -ge 2 ]; }
wait_for 20 "the raw stats stream to send two samples" _raw
start=$(date +%s%N)
kill -TERM "$BERTHD_PID"
wait_for 10 "berthd to exit" exited "$BERTHD_PID"
ms=$((($(date +%s%N) - start) / 1000000))
rc=0
wait "$BERTHD_PID" || rc=$?
BERTHD_PID=
assert_eq "$rc" 0 "berthd exit status after SIGTERM with a stats stream"
[ "$ms" -lt 4000 ] || fail "berthd took ${ms} ms to stop"
grep -F 'still busy at shutdown' "$BERTHD_LOG" && fail "connections were left busy"
wait_for 10 "the raw stats client to end" exited "$RAW"
echo "berthd stopped in ${ms} ms with a stats stream"

start_berthd
finish
echo "test_berthd_stats: all checks passed"
