#!/usr/bin/env bash
# make bench: berthd against podman+runc, side by side in one run, on the same busybox image.
#   A. `run --rm IMAGE true` without a network: berthd through the docker CLI and through the
#      Engine API directly (no CLI start-up), podman+runc's CLI, podman's own Docker-compatible
#      service through the same API client, and the CLIs' bare start-up times.
#   B. the same on the default bridge network: podman's (netavark) against berthd's (a veth
#      pair on the berth0 bridge, an address, outbound NAT).
#   C. berthd's resident memory idle, with 10 running containers (and each shim's), after.
# Medians, p90, means and ratios go to build/bench/results.md. No figure is asserted: the exit
# status says only whether everything ran.
#
# Runs as root. The work happens in namespaces of its own (pid, mount, network): podman's
# bridge, veths and firewall rules, every mount and every process end with them; /run,
# /dev/shm and /var/lib/containers are covered by tmpfs there, so podman and runc leave no
# state on the host. What outlives the namespaces (cgroup directories, the temp dir) is removed on exit.
# Knobs: BENCH_N (30 runs per case), BENCH_WARMUP (3), BENCH_SLEEPERS (10),
# BENCH_TIMEOUT (1800 s for everything).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_PY="$TOP/tests/bench/bench.py"
BERTHD="$TOP/build/bin/berthd"
N=${BENCH_N:-30}
WARMUP=${BENCH_WARMUP:-3}
SLEEPERS=${BENCH_SLEEPERS:-10}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1800}
RESULTS="$TOP/build/bench/results.md"

die() {
    echo "bench: FAIL: $*" >&2
    exit 1
}

# poll SECONDS DESCRIPTION CMD...: run CMD every 50 ms until it succeeds; fail after SECONDS.
poll() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || die "timed out after ${secs}s waiting for $what"
        sleep 0.05
    done
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------
# Outer part: on the host. Prepares, starts the inner part in its own namespaces, cleans up.
# ---------------------------------------------------------------------------------------

# Cgroup directories of this run's containers. Normally their runtimes remove them; when the
# namespaces were torn down by force they stay behind, empty. Only directories named after
# this run's own containers (ids from its state dirs) are candidates, never anyone else's.
own_cgroups() {
    local d id
    for d in "$T"/data/containers/* "$T"/exec/containers/* "$T"/podman/root/*-containers/*; do
        id=$(basename "$d")
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || continue
        ls -d /sys/fs/cgroup/*/berth/"$id" /sys/fs/cgroup/*/libpod_parent/libpod-"$id" 2>/dev/null
    done
    if [ "${LIBPOD_CG_EXISTED:-1}" = 0 ]; then
        ls -d /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null
    fi
    true
}

outer_stop_inner() {
    local pid
    [ -n "${USH:-}" ] || return 0
    gone "$USH" && return 0
    pid=$(ps -o pid= --ppid "$USH" | tr -d ' ' | head -n 1)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + 120))
    while ! gone "$USH" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if ! gone "$USH"; then
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null # pid 1 of the namespace: takes all
        kill -KILL "$USH" 2>/dev/null
    fi
    wait "$USH" 2>/dev/null
}

outer_cleanup() {
    local rc=$?
    set +e
    trap '' INT TERM
    exec >&2 # whatever the shell was writing to when it stopped
    outer_stop_inner
    if [ -n "${T:-}" ] && [ -d "$T" ]; then
        local i left=""
        for i in $(seq 100); do
            left=$(own_cgroups | sort -r)
            [ -z "$left" ] && break
            echo "$left" | xargs -r rmdir 2>/dev/null
            sleep 0.1
        done
        [ -n "$left" ] && echo "bench: WARNING: cgroup directories left behind: $left" >&2
        [ "${VARLIB_EXISTED:-1}" = 1 ] || rm -rf /var/lib/containers
        rm -rf --one-file-system "$T"
    fi
    exit $rc
}

outer_main() {
    [ "$(id -u)" = 0 ] || die "needs root (containers, namespaces, cgroups)"
    "$TOP/tests/deps.sh" bench
    [ -x "$BERTHD" ] || die "$BERTHD is missing: run make all first"
    [ -x /bin/busybox ] || die "/bin/busybox is missing (apt-get install busybox-static)"
    local t
    for t in docker podman runc conmon unshare python3 curl ip; do
        command -v "$t" >/dev/null || die "$t is not installed"
    done
    [[ "$N" =~ ^[0-9]+$ && "$N" -ge 5 && "$N" -le 1000 ]] || die "BENCH_N must be 5..1000"
    [[ "$SLEEPERS" =~ ^[0-9]+$ && "$SLEEPERS" -le 100 ]] || die "BENCH_SLEEPERS must be 0..100"
    [[ "$BENCH_TIMEOUT" =~ ^[0-9]+$ && "$BENCH_TIMEOUT" -ge 60 ]] || die "BENCH_TIMEOUT must be >= 60"

    T=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")
    trap outer_cleanup EXIT
    trap 'echo "bench: interrupted, cleaning up" >&2; exit 130' INT TERM
    LIBPOD_CG_EXISTED=0
    [ -d /sys/fs/cgroup/pids/libpod_parent ] && LIBPOD_CG_EXISTED=1
    VARLIB_EXISTED=0
    [ -e /var/lib/containers ] && VARLIB_EXISTED=1
    mkdir -p "$(dirname "$RESULTS")"

    # --kill-child: should this shell die, the namespace's pid 1 is told to clean up.
    unshare --pid --fork --kill-child=SIGTERM --mount-proc --net --propagation private \
        bash "${BASH_SOURCE[0]}" --inner "$T" &
    USH=$!
    local rc=0
    wait "$USH" || rc=$?
    USH=
    [ $rc -eq 0 ] || die "the benchmark failed (exit $rc)"
    echo "bench: results in $RESULTS"
}

# ---------------------------------------------------------------------------------------
# Inner part: pid 1 of fresh pid, mount and network namespaces.
# ---------------------------------------------------------------------------------------

berthd_alive() { [ -n "${BERTHD_PID:-}" ] && ! gone "$BERTHD_PID"; }

inner_cleanup() {
    local rc=$?
    set +e
    trap '' INT TERM
    if berthd_alive; then
        local -a ids=()
        mapfile -t ids < <(timeout 20 docker ps -aq 2>/dev/null)
        [ ${#ids[@]} -gt 0 ] && timeout 60 docker rm -f "${ids[@]}" >/dev/null 2>&1
    fi
    if [ ${#P[@]} -gt 0 ]; then
        timeout 60 "${P[@]}" rm -f -a -t 0 >/dev/null 2>&1
    fi
    if [ -n "${PODMAN_SVC:-}" ] && ! gone "$PODMAN_SVC"; then
        kill -TERM "$PODMAN_SVC" 2>/dev/null
        local d=$((SECONDS + 20))
        while ! gone "$PODMAN_SVC" && [ $SECONDS -lt $d ]; do sleep 0.05; done
        kill -KILL "$PODMAN_SVC" 2>/dev/null
    fi
    if [ ${#P[@]} -gt 0 ]; then
        timeout 60 "${P[@]}" system reset -f >/dev/null 2>&1
    fi
    if berthd_alive; then
        kill -TERM "$BERTHD_PID" 2>/dev/null
        local d=$((SECONDS + 20))
        while berthd_alive && [ $SECONDS -lt $d ]; do sleep 0.05; done
        berthd_alive && kill -KILL "$BERTHD_PID" 2>/dev/null
    fi
    # Returning from pid 1 ends every process left in the namespace, and with the mount
    # namespace every mount.
    exit $rc
}

inner_fail() {
    echo "bench: FAIL: $*" >&2
    [ -f "$T/berthd.log" ] && { echo "--- berthd log (tail)" >&2; tail -n 30 "$T/berthd.log" >&2; }
    exit 1
}

# podman_setup DRIVER: fresh podman storage with DRIVER holding the busybox image; true when
# a container runs.
podman_setup() {
    if [ ${#P[@]} -gt 0 ]; then
        timeout 60 "${P[@]}" system reset -f >/dev/null 2>&1
    fi
    awk -v d="$T/podman/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
        xargs -r umount -l
    rm -rf "$T/podman"
    mkdir -p "$T/podman/net"
    P=(podman --root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp"
        --network-config-dir "$T/podman/net" --storage-driver "$1" --cgroup-manager cgroupfs
        --events-backend none --runtime runc)
    timeout 120 "${P[@]}" import "$T/rootfs.tar" busybox:latest >"$T/podman-setup.log" 2>&1 &&
        timeout 120 "${P[@]}" run --rm --network none "${ULIM[@]}" busybox true \
            >>"$T/podman-setup.log" 2>&1
}

bench() { python3 "$BENCH_PY" "$@"; }

# Interfaces as a container sees them, from `ip -o link; echo --; ip -o -4 addr` run in it:
# "lo <LOOPBACK,UP,LOWER_UP> 127.0.0.1/8; eth0 <...> 10.88.0.2/16; ".
NETINFO='ip -o link; echo --; ip -o -4 addr'
net_summary() {
    awk '$1 == "--" {addrs = 1; next}
        !addrs {n = $2; sub(":$", "", n); sub("@.*", "", n); order[++k] = n; flags[n] = $3; next}
        {ip[$2] = ip[$2] " " $4}
        END {for (i = 1; i <= k; i++) {n = order[i]; printf "%s %s%s; ", n, flags[n],
            (n in ip) ? ip[n] : " (no IPv4 address)"}}'
}

# net_note LABEL RUN...: note the interfaces seen by `RUN sh -c "$NETINFO"` (a container run
# command without its command); false when it fails.
net_note() {
    local label=$1 out
    shift
    if out=$("$@" sh -c "$NETINFO" 2>&1); then
        note "$label: \`$(echo "$out" | net_summary)\`"
    else
        note "$label: failed: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
        return 1
    fi
}

note() { bench note --db "$DB" "$1"; }

rss() {
    bench rss --db "$DB" --berthd "$BERTHD_PID" --exec-root "$T/exec" \
        --podman-root "$T/podman/root" --key "$1" --title "$2"
}

inner_main() {
    T=$1
    DB="$T/results.json"
    P=()
    ULIM=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
    trap inner_cleanup EXIT
    trap 'exit 130' INT TERM
    # The bound on the whole run: pid 1 (this shell) is told to stop and clean up.
    (
        sleep "$BENCH_TIMEOUT"
        echo "bench: FAIL: timed out after ${BENCH_TIMEOUT}s" >&2
        kill -TERM 1
    ) &

    # Private /run, /dev/shm and /var/lib/containers: podman (its lock file is
    # /dev/shm/libpod_lock), netavark and runc keep state there.
    mount -t tmpfs -o mode=0755 berth-bench-run /run
    mkdir -p /run/lock
    mount -t tmpfs -o mode=1777 berth-bench-shm /dev/shm
    if [ -d /var/lib/containers ]; then
        mount -t tmpfs -o mode=0700 berth-bench-containers /var/lib/containers
    fi
    ip link set lo up
    mkdir -p "$T/home" "$T/tmp" "$T/docker-config"
    echo '{}' >"$T/docker-config/config.json" # podman reads it for registry auth too
    export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_DATA_HOME="$T/home/.local/share"
    export BENCH_IDS="$T/berth-ids"
    export TMPDIR="$T/tmp" DOCKER_CONFIG="$T/docker-config" DOCKER_HOST="unix://$T/berthd.sock"
    unset XDG_RUNTIME_DIR DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT CONTAINER_HOST

    # --- the image: /bin/busybox with its applet links ---
    mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/tmp" "$T/rootfs/root"
    cp /bin/busybox "$T/rootfs/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$T/rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
        >"$T/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$T/rootfs/etc/group"
    tar -C "$T/rootfs" -cf "$T/rootfs.tar" .

    # --- berthd ---
    echo '{}' >"$T/daemon.json"
    "$BERTHD" daemon -H "unix://$T/berthd.sock" --data-root "$T/data" --exec-root "$T/exec" \
        --pidfile "$T/berthd.pid" --config-file "$T/daemon.json" 2>>"$T/berthd.log" &
    BERTHD_PID=$!
    poll 20 "berthd on $T/berthd.sock" curl -sf --max-time 5 --unix-socket "$T/berthd.sock" \
        http://x/_ping
    timeout 120 docker import "$T/rootfs.tar" busybox:latest >/dev/null ||
        inner_fail "docker import into berthd"
    timeout 60 docker run --rm --network none busybox true || inner_fail "docker run on berthd"

    # --- podman: overlay storage, else vfs ---
    local driver=overlay
    if ! podman_setup overlay; then
        note "podman with --storage-driver overlay failed ($(tail -n 1 "$T/podman-setup.log")); used vfs"
        driver=vfs
        podman_setup vfs || inner_fail "podman does not run here: $(tail -n 5 "$T/podman-setup.log")"
    fi
    "${P[@]}" system service --time 0 "unix://$T/podman.sock" 2>>"$T/podman-service.log" &
    PODMAN_SVC=$!
    if ! (poll 20 "podman system service" test -S "$T/podman.sock"); then
        note "podman system service did not start: $(tail -n 1 "$T/podman-service.log")"
    fi

    bench env --db "$DB" --sock "$T/berthd.sock" --set "podman storage driver=$driver" \
        --set "PODMAN_FLAGS=${P[*]:1}" \
        --set "bench=N=$N measured runs per case after $WARMUP warm-ups, interleaved"
    rss 1-idle "berthd idle: image loaded, no containers yet"

    # --- A: no network ---
    local PC="${P[*]}"
    bench time --db "$DB" --group a --n "$N" --warmup "$WARMUP" \
        --title "A. run --rm IMAGE true, --network none" \
        --cli berthd-cli "berthd via docker CLI" "docker run --rm --network none busybox true" \
        --api berthd-api "berthd via API (no CLI)" "$T/berthd.sock" busybox:latest none - \
        --api berthd-api-run "berthd via API, docker run's requests (no CLI)" "$T/berthd.sock" \
        busybox:latest none attach \
        --cli podman-cli "podman+runc CLI" "$PC run --rm --network none ${ULIM[*]} busybox true" \
        --api podman-api "podman system service (runc) via API" "$T/podman.sock" \
        localhost/busybox:latest none ulimits \
        --cli docker-version "docker CLI start-up only" "docker --version" \
        --cli docker-roundtrip "docker CLI + ping + GET /version" "docker version" \
        --cli podman-version "podman CLI start-up only" "podman --version"

    # --- B: default network ---
    local bridge_ok=1
    net_note "podman's default network, seen from a container" \
        timeout 120 "${P[@]}" run --rm "${ULIM[@]}" busybox || bridge_ok=0
    [ $bridge_ok = 1 ] ||
        note "podman's default bridge network does not work here: comparison B is skipped"
    net_note "berthd's default network, seen from a container" \
        timeout 60 docker run --rm busybox || true
    net_note "podman's --network none, seen from a container" \
        timeout 120 "${P[@]}" run --rm --network none "${ULIM[@]}" busybox || true
    net_note "berthd's --network none, seen from a container" \
        timeout 60 docker run --rm --network none busybox || true
    local -a podman_b=()
    [ $bridge_ok = 1 ] && podman_b=(--cli podman-cli "podman+runc CLI, default bridge (netavark)"
        "$PC run --rm ${ULIM[*]} busybox true")
    bench time --db "$DB" --group b --n "$N" --warmup "$WARMUP" \
        --title "B. run --rm IMAGE true, default network" \
        --cli berthd-cli "berthd via docker CLI, default bridge" \
        "docker run --rm busybox true" \
        --api berthd-api "berthd via API, default bridge" "$T/berthd.sock" \
        busybox:latest default - \
        "${podman_b[@]}"

    rss 2-after "berthd idle after the benchmark runs"

    # --- C: memory with running containers ---
    local i id
    for i in $(seq "$SLEEPERS"); do
        id=$(timeout 60 docker run -d --network none busybox sleep 600) ||
            inner_fail "docker run -d sleeper $i: $id"
        echo "berthd-sleeper $id" >>"$T/berth-ids"
        timeout 60 "${P[@]}" run -d --network none "${ULIM[@]}" busybox sleep 600 >/dev/null ||
            inner_fail "podman run -d sleeper $i"
    done
    rss 3-sleepers "with $SLEEPERS running \`sleep\` containers each"
    local -a ids=()
    mapfile -t ids < <(timeout 20 docker ps -aq)
    if [ ${#ids[@]} -gt 0 ]; then
        timeout 120 docker rm -f "${ids[@]}" >/dev/null || inner_fail "docker rm -f"
    fi
    timeout 120 "${P[@]}" rm -f -a -t 0 >/dev/null || inner_fail "podman rm -f -a"
    no_conmon() { ! pgrep -f "conmon .*$T/podman/" >/dev/null; }
    poll 20 "podman's conmons to exit" no_conmon
    rss 4-removed "berthd idle after removing them"

    # --- hygiene: what the runs left behind ---
    local left_data left_exec
    left_data=$(find "$T/data/containers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    left_exec=$(find "$T/exec/containers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    note "after every container was removed: $left_data container records, $left_exec bundles left in berthd's state dirs; $(grep -ci 'error' "$T/berthd.log" || true) log lines mention errors"
    local cg_left=0 known
    known=$(awk '$1 ~ /^berthd/ {print $2}' "$T/berth-ids" | sort -u)
    for id in $known; do
        [[ "$id" =~ ^[0-9a-f]{64}$ ]] || continue
        if ls -d /sys/fs/cgroup/*/berth/"$id" >/dev/null 2>&1; then cg_left=$((cg_left + 1)); fi
    done
    note "of the $(echo "$known" | wc -w) removed berthd containers whose ids are known (API runs, sleepers), $cg_left still have a cgroup directory"
    local t0 rc=0
    t0=$(date +%s%N)
    kill -TERM "$BERTHD_PID"
    local d=$((SECONDS + 30))
    while berthd_alive && [ $SECONDS -lt $d ]; do sleep 0.01; done
    if berthd_alive; then
        note "berthd did not exit within 30 s of SIGTERM"
    else
        wait "$BERTHD_PID" || rc=$?
        note "berthd exited $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM, status $rc"
    fi

    bench report --db "$DB" --out "$RESULTS" --strip "$T" --alias "$PC=podman \$PODMAN_FLAGS"
    bench check --db "$DB" --require a/berthd-cli a/berthd-api a/berthd-api-run a/podman-cli \
        b/berthd-cli \
        b/berthd-api
}

if [ "${1:-}" = --inner ]; then
    inner_main "$2"
else
    outer_main
fi
