# Helpers for the berthd container tests (test_berthd_containers, _tls_cli, _dockerpy,
# _restart). Source it after lib.sh. It gives each test a busybox image tarball, a berthd of
# its own (socket, roots and cgroup parent under names no other test uses), and a teardown
# that proves nothing is left behind: no containers, shims, mounts or cgroups.
#
# Needs root (containers), /bin/busybox (busybox-static) and the docker CLI.

export DOCKER_CONFIG=$T/dockercfg
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT DOCKER_API_VERSION
mkdir -p "$DOCKER_CONFIG"
SOCK=$T/berthd.sock
BERTHD_LOG=$T/berthd.log
# The containers' cgroups are /sys/fs/cgroup/<hierarchy>/$CG_PARENT/<id>.
CG_PARENT=berth-test-$$
BERTHD_PID=

fail() {
    echo "FAIL: $*" >&2
    [ -f "$BERTHD_LOG" ] && { echo "--- berthd log" >&2; tail -n 40 "$BERTHD_LOG" >&2; }
    exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (containers)"
[ -x /bin/busybox ] || fail "/bin/busybox is missing (apt-get install busybox-static)"
command -v docker >/dev/null || fail "the docker CLI is missing"

dk() {
    timeout 60 docker "$@"
}

ucurl() {
    curl -s --max-time 30 --unix-socket "$SOCK" "$@"
}

# py CODE ARGS...: run CODE with docker-py's client `c` bound to the daemon.
py() {
    local code=$1
    shift
    timeout 60 "$DOCKER_PY" -c "import docker, sys
c = docker.DockerClient(base_url='unix://$SOCK')
$code" "$@"
}

# exited PID: the process is gone or a zombie waiting to be reaped.
exited() {
    ! kill -0 "$1" 2>/dev/null || ps -o stat= -p "$1" | grep -q '^Z'
}

# busybox_tar FILE: a busybox root file system, the way Debian's busybox-static provides it.
busybox_tar() {
    local root=$T/rootfs
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -cf "$1" .
}

# start_berthd ARGS...: berthd on $SOCK (plus ARGS) with its roots under $T; waits for it.
start_berthd() {
    [ -f "$T/daemon.json" ] || echo '{}' >"$T/daemon.json"
    bg "$BERTHD" daemon -H "unix://$SOCK" --data-root "$T/data" --exec-root "$T/exec" \
        --pidfile "$T/berthd.pid" --config-file "$T/daemon.json" --cgroup-parent "$CG_PARENT" \
        --log-level debug "$@" 2>>"$BERTHD_LOG"
    BERTHD_PID=$BG_PID
    wait_for 20 "berthd on $SOCK" ucurl -f http://x/_ping
}

# stop_berthd: SIGTERM, and berthd must exit 0 (sanitizer reports make the status non-zero).
stop_berthd() {
    local rc=0
    [ -n "$BERTHD_PID" ] || return 0
    kill -TERM "$BERTHD_PID"
    wait_for 15 "berthd to exit" exited "$BERTHD_PID"
    wait "$BERTHD_PID" || rc=$?
    BERTHD_PID=
    assert_eq "$rc" 0 "berthd exit status"
}

# The cgroup directories of this test's containers (v1 hierarchies, or the v2 root).
test_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/"$CG_PARENT"/*/ /sys/fs/cgroup/"$CG_PARENT"/*/; do
        [ -d "$d" ] && echo "${d%/}"
    done
    return 0
}

# The test's cgroup parent directories.
parent_cgroups() {
    local d
    for d in /sys/fs/cgroup/*/"$CG_PARENT" /sys/fs/cgroup/"$CG_PARENT"; do
        [ -d "$d" ] && echo "$d"
    done
    return 0
}

# Processes that belong to this test: shims (their command line names a bundle under $T) and
# everything in the test's cgroups.
test_pids() {
    local p d
    for p in $(pgrep -f -- "shim --sync-fd [0-9]+ $T/" 2>/dev/null); do
        echo "$p"
    done
    for d in $(test_cgroups); do
        cat "$d/cgroup.procs" 2>/dev/null
    done
}

# finish: the end of a passing test. Remove every container through the API, stop berthd,
# then require that nothing is left: no shim or container process, no mount under $T, no
# container cgroup; the (empty) cgroup parent is removed last.
finish() {
    local ids left
    ids=$(dk ps -aq) || fail "docker ps -aq"
    [ -z "$ids" ] || dk rm -f $ids >/dev/null || fail "docker rm -f $ids"
    left=$(ls "$T/data/containers" "$T/exec/containers" 2>/dev/null | grep -v ':$' || true)
    [ -z "$(echo $left)" ] || fail "container directories left behind: $left"
    stop_berthd
    grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$BERTHD_LOG" &&
        fail "sanitizer reports in the berthd log"
    left=$(test_pids | sort -u | tr '\n' ' ')
    [ -z "$left" ] || fail "processes left behind: $left"
    left=$(grep -F " $T/" /proc/mounts || true)
    [ -z "$left" ] || fail "mounts left behind: $left"
    left=$(test_cgroups)
    [ -z "$left" ] || fail "container cgroups left behind: $left"
    for d in $(parent_cgroups); do
        rmdir "$d" || fail "cannot remove the cgroup parent $d"
    done
}

# On any exit, best effort: kill what this test started (by pid), unmount, remove its cgroups.
_berthd_env_cleanup() {
    set +e
    local p d m
    tm kill-server 2>/dev/null
    if [ -n "$BERTHD_PID" ] && ! exited "$BERTHD_PID"; then
        ids=$(timeout 20 docker ps -aq 2>/dev/null)
        [ -n "$ids" ] && timeout 30 docker rm -f $ids >/dev/null 2>&1
    fi
    for p in $(test_pids); do
        kill -9 "$p" 2>/dev/null
    done
    grep -F " $T/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
        umount -l "$m"
    done
    for d in $(test_cgroups) $(parent_cgroups); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            rmdir "$d" 2>/dev/null && break
            [ -d "$d" ] || break
            sleep 0.1
        done
    done
}
trap 'rc=$?; _berthd_env_cleanup; (exit $rc); _cleanup' EXIT

# --- a real terminal, through tmux on a socket of the test's own --------------------------

command -v tmux >/dev/null || fail "tmux is missing (apt-get install tmux)"
TMUX_SOCK=$T/tmux.sock
tm() {
    tmux -S "$TMUX_SOCK" "$@"
}

# tty_start NAME CMD: run the shell command CMD in a 100x30 terminal; when it ends its exit
# status lands in $T/NAME.rc and the session closes.
tty_start() {
    local name=$1
    printf '%s\n' "$2; echo \$? >'$T/$name.rc.tmp'; mv '$T/$name.rc.tmp' '$T/$name.rc'" \
        >"$T/$name.sh"
    tm new-session -d -s "$name" -x 100 -y 30 \
        "env DOCKER_HOST='${DOCKER_HOST:-}' DOCKER_TLS_VERIFY='${DOCKER_TLS_VERIFY:-}' DOCKER_CERT_PATH='${DOCKER_CERT_PATH:-}' DOCKER_CONFIG='$DOCKER_CONFIG' bash '$T/$name.sh'" ||
        fail "tmux new-session $name"
}

tty_screen() {
    tm capture-pane -p -t "$1" 2>/dev/null
}

# tty_expect NAME TEXT: wait until the terminal shows TEXT (a whole line's worth of grep -F).
tty_expect() {
    local name=$1 text=$2
    _tty_has() { tty_screen "$1" | grep -qF -- "$2"; }
    local deadline=$((SECONDS + 20))
    until _tty_has "$name" "$text"; do
        [ $SECONDS -lt $deadline ] || fail "terminal $name never showed [$text]: $(tty_screen "$name")"
        sleep 0.05
    done
}

# tty_rc NAME: wait for the command of NAME to end and print its exit status.
tty_rc() {
    wait_for 20 "the command in terminal $1 to end" test -f "$T/$1.rc"
    cat "$T/$1.rc"
}

# --- the docker CLI's everyday commands, against whatever DOCKER_HOST points at ------------

# cli_core_flow TAG: version, info, import, images, run (--rm, -d, -it, exit codes), ps, logs,
# exec, stop, start, attach, start -a, inspect, save/load, rmi, rm -f. TAG names the
# transport in messages. Leaves the image busybox:latest and no containers.
cli_core_flow() {
    local tag=$1 id out rc i img

    assert_eq "$(dk version --format '{{.Server.Version}}')" \
        "$("$BERTHD" --version | sed -n 's/^berthd version \([^,]*\),.*/\1/p')" "$tag: docker version"
    out=$(dk info 2>&1) || fail "$tag: docker info: $out"
    assert_contains "$out" "Docker Root Dir: $T/data"
    assert_contains "$out" "Cgroup Driver: cgroupfs"

    [ -f "$T/busybox.tar" ] || busybox_tar "$T/busybox.tar"
    img=$(dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest) ||
        fail "$tag: docker import: $img"
    assert_contains "$(dk images --format '{{.Repository}}:{{.Tag}} {{.ID}}')" \
        "busybox:latest ${img:7:12}" "$tag: docker images"

    # run --rm, attached: all of the output, every time (the attach must never miss it).
    for i in 1 2 3 4 5 6 7 8; do
        assert_eq "$(dk run --rm busybox echo hi-$i)" "hi-$i" "$tag: docker run --rm, try $i"
    done
    assert_eq "$(dk run --rm busybox sh -c 'echo out; echo err >&2' 2>&1 >/dev/null)" "err" \
        "$tag: stderr of docker run"
    rc=0
    dk run --rm busybox sh -c 'exit 3' || rc=$?
    assert_eq "$rc" 3 "$tag: exit code of sh -c 'exit 3'"
    rc=0
    dk run --rm busybox nosuchcommand 2>"$T/err" || rc=$?
    assert_eq "$rc" 127 "$tag: exit code of a missing command"
    assert_contains "$(cat "$T/err")" 'executable file not found in $PATH'
    rc=0
    dk run --rm busybox /etc/passwd 2>"$T/err" || rc=$?
    assert_eq "$rc" 126 "$tag: exit code of a command that is not executable"
    assert_contains "$(cat "$T/err")" "permission denied"
    [ -z "$(dk ps -aq)" ] || fail "$tag: run --rm left containers: $(dk ps -a)"

    # run -d, ps, logs, exec, stop, start, rm -f.
    local ticker='trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'
    id=$(dk run -d --name t1 busybox sh -c "$ticker") || fail "$tag: docker run -d: $id"
    [[ "$id" =~ ^[0-9a-f]{64}$ ]] || fail "$tag: docker run -d printed [$id]"
    out=$(dk ps --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}}')
    assert_contains "$out" "${id:0:12} t1 busybox Up" "$tag: docker ps"
    _has_tick() { dk logs "$1" 2>/dev/null | grep -x "tick $2" >/dev/null; }
    wait_for 20 "$tag: t1 to log tick 3" _has_tick t1 3
    assert_eq "$(dk logs t1 | head -n 2 | tr '\n' ' ')" "tick 0 tick 1 " "$tag: docker logs"
    assert_eq "$(dk exec t1 sh -c 'echo exec $((2+3))')" "exec 5" "$tag: docker exec"
    rc=0
    dk exec t1 sh -c 'exit 6' || rc=$?
    assert_eq "$rc" 6 "$tag: exit code of docker exec"
    dk stop -t 5 t1 >/dev/null || fail "$tag: docker stop"
    assert_eq "$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' t1)" "exited 0" \
        "$tag: state after stop (the TERM trap exits 0)"
    assert_contains "$(dk ps -a --format '{{.Names}} {{.Status}}')" "t1 Exited (0)"
    [ -z "$(dk ps -q)" ] || fail "$tag: docker ps lists a stopped container"
    dk start t1 >/dev/null || fail "$tag: docker start"
    assert_eq "$(dk inspect -f '{{.State.Status}}' t1)" running "$tag: state after start"
    assert_eq "$(dk exec t1 echo again)" again "$tag: exec after a restart"

    # attach to a running container; `docker start -a`.
    out=$(timeout -s KILL 20 docker attach --sig-proxy=false t1 | head -n 3) || true
    [[ "$out" =~ ^tick\ [0-9]+$'\n'tick\ [0-9]+$'\n'tick\ [0-9]+$ ]] ||
        fail "$tag: docker attach printed [$out]"
    dk rm -f t1 >/dev/null || fail "$tag: docker rm -f"
    expect_fail dk inspect t1
    assert_contains "$ERR" "No such object: t1"

    dk create --name sa busybox sh -c 'echo started-$((6*7)); exit 4' >/dev/null ||
        fail "$tag: docker create"
    rc=0
    out=$(dk start -a sa) || rc=$?
    assert_eq "$out $rc" "started-42 4" "$tag: docker start -a (output and exit code)"
    rc=0
    out=$(dk start -a sa) || rc=$?
    assert_eq "$out $rc" "started-42 4" "$tag: docker start -a a second time"
    dk rm sa >/dev/null || fail "$tag: docker rm"

    # run -it on a real terminal: input, output, its size, the exit code.
    tty_start "it-$tag" "docker run -it --rm busybox sh"
    tty_expect "it-$tag" "/ #"
    tm send-keys -t "it-$tag" 'echo hi-$((6*7))' Enter
    tty_expect "it-$tag" "hi-42"
    tm send-keys -t "it-$tag" 'stty size' Enter
    tty_expect "it-$tag" "30 100"
    tm send-keys -t "it-$tag" 'tty; exit 5' Enter
    assert_eq "$(tty_rc "it-$tag")" 5 "$tag: exit code of docker run -it"

    # inspect; save and load; rmi refused while a container uses the image.
    id=$(dk create --name i1 -m 64m busybox sh -c 'exit 0') || fail "$tag: create i1: $id"
    assert_eq "$(dk inspect -f '{{.Id}} {{.Name}} {{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}} {{.HostConfig.Memory}}' i1)" \
        "$id /i1 created 0 [\"sh\",\"-c\",\"exit 0\"] 67108864" "$tag: docker inspect"
    dk save busybox -o "$T/saved.tar" || fail "$tag: docker save"
    expect_fail dk rmi busybox
    assert_contains "$ERR" "conflict"
    assert_contains "$ERR" "${id:0:12}"
    dk rm i1 >/dev/null || fail "$tag: rm i1"
    out=$(dk rmi busybox) || fail "$tag: docker rmi: $out"
    assert_contains "$out" "Deleted: $img"
    out=$(dk load -i "$T/saved.tar") || fail "$tag: docker load: $out"
    assert_contains "$out" "Loaded image: busybox:latest"
    assert_eq "$(dk image inspect -f '{{.Id}}' busybox)" "$img" "$tag: the loaded image's ID"
    assert_eq "$(dk run --rm busybox echo loaded)" loaded "$tag: run the loaded image"
}
