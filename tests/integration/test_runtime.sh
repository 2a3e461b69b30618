#!/usr/bin/env bash
# The container runtime (runtime-agent/runtime/) against the real kernel: `berthd shim` and
# `berthd nsexec` on hand-written bundles over a busybox rootfs, and the runtime API through
# build/tests/test_runtime_api (see its header). Needs root, busybox-static and python3.
# RUNTIME_BERTHD / RUNTIME_API override the two binaries.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, mounts, cgroups)"
[ -x /bin/busybox ] || fail "needs /bin/busybox (Debian package busybox-static)"
command -v python3 >/dev/null || fail "needs python3"
RT_BERTHD=${RUNTIME_BERTHD:-$BERTHD}
API=${RUNTIME_API:-$TOP/build/tests/test_runtime_api}
[ -x "$API" ] || fail "missing $API (make $API)"
export BERTHD_SELF=$RT_BERTHD
CGP="berth-test-$$"
ROOTFS=$T/rootfs
BUNDLES=()

# Kill the containers left running (their shims then clean up and exit), then any shim still
# alive, then remove our cgroups.
pids_of() {
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s.get(sys.argv[2]) or 0 if s["status"] == "running" or sys.argv[2] == "shim_pid" else 0)' "$@" 2>/dev/null || echo 0
}
rt_cleanup() {
    set +e
    local b pid shims=()
    for b in "${BUNDLES[@]:-}"; do
        [ -n "$b" ] && [ -f "$b/state.json" ] || continue
        pid=$(pids_of "$b/state.json" pid)
        [ "$pid" -gt 0 ] && kill -9 "$pid" 2>/dev/null
        shims+=("$(pids_of "$b/state.json" shim_pid)")
    done
    for pid in "${shims[@]:-}"; do
        [ -n "$pid" ] && [ "$pid" -gt 0 ] || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null
    done
    for _ in $(seq 100); do
        find /sys/fs/cgroup -maxdepth 3 -depth -type d -path "*/$CGP*" -exec rmdir {} + 2>/dev/null
        [ -z "$(find /sys/fs/cgroup -maxdepth 3 -type d -path "*/$CGP*" 2>/dev/null)" ] && break
        sleep 0.05
    done
}
trap 'rc=$?; rt_cleanup; (exit $rc); _cleanup' EXIT

usage=$("$RT_BERTHD" shim 2>&1 || true)
assert_contains "$usage" "Usage: berthd shim" \
    "$RT_BERTHD has no 'shim' command (runtime-agent/main.c must call shim_main)"

# --- fixtures ---------------------------------------------------------------------------

mkdir -p "$ROOTFS"/{bin,etc,tmp,root} "$T/host"
cp /bin/busybox "$ROOTFS/bin/"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
    >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n' >"$ROOTFS/etc/group"
ln -s /tmp "$ROOTFS/evil"
echo "from the host" >"$T/host/file"

cat >"$T/mkspec.py" <<'EOF'
import json, os, sys
# mkspec.py BUNDLE ID ROOTFS CGROUP_PARENT [KEY=JSON...] -- ARGS...
bundle, cid, rootfs, cgp = sys.argv[1:5]
rest = sys.argv[5:]
i = rest.index("--")
for d in ("upper", "work"):
    os.makedirs(os.path.join(bundle, d), exist_ok=True)
spec = {"id": cid, "layers": [rootfs], "upper": bundle + "/upper", "work": bundle + "/work",
        "args": rest[i + 1:], "cwd": "/", "hostname": "h-" + cid, "cgroup_parent": cgp,
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "log_path": bundle + "/" + cid + "-json.log", "log_max_size": 0, "log_max_files": 1}
for kv in rest[:i]:
    k, v = kv.split("=", 1)
    spec[k] = json.loads(v)
json.dump(spec, open(os.path.join(bundle, "spec.json"), "w"))
EOF

cat >"$T/attach.py" <<'EOF'
import socket, struct, sys
# attach.py MODE SOCKET: talk to a shim with Docker's framing; prints stdout as received.
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(path)
out = b""
def send(stream, data):
    s.sendall(struct.pack(">BxxxI", stream, len(data)) + data)
def read_until(pred):
    global out
    buf = b""
    while not pred(out):
        chunk = s.recv(65536)
        if not chunk:
            return False
        buf += chunk
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxI", buf[:8])
            if len(buf) < 8 + size:
                break
            if stream in (1, 2):
                out += buf[8:8 + size]
            buf = buf[8 + size:]
    return True
if mode == "cat":
    send(0, b"hello\n")
    read_until(lambda o: b"hello\n" in o)
    send(0, b"")
elif mode == "tty":
    send(5, struct.pack(">HH", 40, 100))
    send(0, b"go\n")
read_until(lambda o: False)
sys.stdout.write(out.decode(errors="replace"))
EOF

cat >"$T/frames.py" <<'EOF'
import struct, sys
# frames.py < RAW: print each attach frame as STREAM:PAYLOAD
data = sys.stdin.buffer.read()
while len(data) >= 8:
    stream, size = struct.unpack(">BxxxI", data[:8])
    sys.stdout.write("%d:%s" % (stream, data[8:8 + size].decode(errors="replace")))
    data = data[8 + size:]
EOF

# bundle NAME [KEY=JSON...] -- ARGS...: write $T/NAME/spec.json, print the bundle path.
bundle() {
    local b="$T/$1"
    shift
    mkdir -p "$b"
    BUNDLES+=("$b")
    python3 "$T/mkspec.py" "$b" "$(basename "$b")" "$ROOTFS" "$CGP" "$@"
}

state_of() { "$API" state "$T/$1" | sed -n "s/^$2=//p"; }
is_exited() { grep -q '"status":"exited"' "$T/$1/state.json"; }
wait_exited() { wait_for 30 "container $1 to exit" is_exited "$1"; }
# The log as STREAM:TEXT lines.
log_of() {
    python3 -c 'import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line); sys.stdout.write(j["stream"] + ":" + j["log"])' "$T/$1/$1-json.log"
}
# run NAME [KEY=JSON...] -- ARGS...: run a container through the shim to its end.
run() {
    local name=$1
    bundle "$@"
    "$RT_BERTHD" shim "$T/$name"
    wait_exited "$name"
}
container_pid() { state_of "$1" pid; }
running() { [ "$(state_of "$1" running)" = 1 ]; }

# --- exit codes, output, namespaces -----------------------------------------------------

run exit3 -- sh -c 'echo out; echo err >&2; exit 3'
assert_eq "$(state_of exit3 exit_code)" 3 "exit code of sh -c 'exit 3'"
assert_eq "$(log_of exit3 | sort)" "$(printf 'stderr:err\nstdout:out')" "json log streams"
grep -q '"time":"20[0-9-]*T[0-9:.]*Z"}' "$T/exit3/exit3-json.log" || fail "log time format"
[ ! -e "$T/exit3/attach.sock" ] || fail "attach.sock left behind"
[ ! -d "/sys/fs/cgroup/memory/$CGP/exit3" ] && [ ! -d "/sys/fs/cgroup/$CGP/exit3" ] ||
    fail "cgroup of exit3 not removed"

bundle missing -- no-such-cmd
expect_fail "$API" start "$T/missing"
assert_contains "$ERR" 'exec: "no-such-cmd": executable file not found in $PATH'
assert_eq "$(state_of missing exit_code)" 127 "exit code of a missing command"
assert_contains "$(state_of missing error)" "executable file not found"
[ ! -e "$T/missing/shim.pid" ] || fail "shim.pid written for a container that never ran"

bundle noexec -- /etc/passwd
expect_fail "$API" start "$T/noexec"
assert_contains "$ERR" 'exec: "/etc/passwd": permission denied'
assert_eq "$(state_of noexec exit_code)" 126 "exit code of a non-executable command"

run pidns -- sh -c 'echo $$ /proc/[0-9]*; hostname; cat /proc/1/cmdline | tr "\0" " "'
assert_eq "$(log_of pidns)" "$(printf 'stdout:1 /proc/1\nstdout:h-pidns\nstdout:sh -c echo $$ /proc/[0-9]*; hostname; cat /proc/1/cmdline | tr "\\0" " " ')" \
    "pid 1, no host processes, hostname"

run nolog log_driver='"none"' -- echo quiet
[ ! -e "$T/nolog/nolog-json.log" ] || fail "log_driver none wrote a log"

# --- attach: API start with attach, stdin, tty ------------------------------------------

bundle attached -- sh -c 'echo hi; echo oops >&2'
"$API" start "$T/attached" attach >"$T/attached.raw"
assert_eq "$(python3 "$T/frames.py" <"$T/attached.raw" | sort)" "$(printf '1:hi\n2:oops')" \
    "frames from runtime_start's attach connection"

bundle cat open_stdin=true -- cat
"$RT_BERTHD" shim "$T/cat"
wait_for 10 "cat's shim.pid" test -e "$T/cat/shim.pid"
out=$(python3 "$T/attach.py" cat "$T/cat/attach.sock")
assert_eq "$out" "hello" "cat echoes attach stdin"
wait_exited cat
assert_eq "$(state_of cat exit_code)" 0 "cat exits once stdin is closed"

bundle tty tty=true open_stdin=true -- sh -c 'read x; tty; stty size'
"$RT_BERTHD" shim "$T/tty"
wait_for 10 "tty's shim.pid" test -e "$T/tty/shim.pid"
out=$(python3 "$T/attach.py" tty "$T/tty/attach.sock" | tr -d '\r')
assert_contains "$out" "/dev/pts/0" "tty in a TTY container"
assert_contains "$out" "40 100" "stty size after a resize frame"
wait_exited tty
assert_contains "$(log_of tty)" "stdout:/dev/pts/0" "TTY output is logged as stdout"

# --- resources ---------------------------------------------------------------------------

run oom resources='{"memory":67108864}' -- sh -c 'x=$(head -c 300000000 /dev/zero | tr "\0" a); echo survived'
assert_eq "$(state_of oom oom_killed)" 1 "oom_killed with a 64 MB limit"

run pids resources='{"pids_limit":10}' -- sh -c 'i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; echo spawned'
assert_contains "$(log_of pids)" "can't fork" "fork fails at pids_limit 10"

# --- identity and protection -------------------------------------------------------------

run nobody user='"nobody"' -- id
assert_eq "$(log_of nobody)" "stdout:uid=65534(nobody) gid=65534(nogroup) groups=50(staff)" "user nobody"
run numeric user='"1234:77"' -- sh -c 'id -u; id -g; echo $HOME'
assert_eq "$(log_of numeric)" "$(printf 'stdout:1234\nstdout:77\nstdout:/')" "numeric user without passwd entry"
bundle baduser user='"bogus"' -- id
expect_fail "$API" start "$T/baduser"
assert_contains "$ERR" "unable to find user bogus: no matching entries in passwd file"

run ro readonly_rootfs=true -- sh -c 'touch /x 2>&1; touch /dev/shm/ok && echo tmpfs-ok'
assert_contains "$(log_of ro)" "Read-only file system" "readonly rootfs refuses writes"
assert_contains "$(log_of ro)" "tmpfs-ok" "tmpfs still writable on a readonly rootfs"

run caps -- sh -c 'grep -E "^(CapEff|CapBnd|Seccomp):" /proc/self/status; unshare -n true 2>&1; echo rc=$?'
out=$(log_of caps)
assert_contains "$out" "CapEff:	00000000a80425fb" "Docker's default capabilities"
assert_contains "$out" "CapBnd:	00000000a80425fb" "bounding set"
assert_contains "$out" "Seccomp:	2" "seccomp filter installed"
assert_contains "$out" "Operation not permitted" "unshare is refused"

run capadd cap_add='["SYS_ADMIN"]' -- sh -c 'unshare -n true && echo unshared; grep Seccomp: /proc/self/status'
assert_contains "$(log_of capadd)" "stdout:unshared" "unshare allowed with CAP_SYS_ADMIN"

run noseccomp seccomp=false cap_drop='["ALL"]' user='"nobody"' -- grep -E '^(Seccomp|CapEff):' /proc/self/status
assert_eq "$(log_of noseccomp)" "$(printf 'stdout:CapEff:\t0000000000000000\nstdout:Seccomp:\t0')" "seccomp off, no caps"

run masked -- sh -c 'wc -c </proc/timer_list; ls /sys/firmware | wc -l; echo x >/proc/sys/kernel/domainname 2>&1'
out=$(log_of masked)
assert_contains "$out" "stdout:0
stdout:0" "/proc/timer_list and /sys/firmware masked"
assert_contains "$out" "Read-only file system" "/proc/sys read-only"

# --- mounts ------------------------------------------------------------------------------

run mounts mounts="[{\"source\":\"$T/host/file\",\"destination\":\"/etc/from-host\",\"type\":\"bind\",\"options\":[\"rbind\",\"ro\"]},{\"source\":\"tmpfs\",\"destination\":\"/evil/escape-$$\",\"type\":\"tmpfs\",\"options\":[\"nosuid\",\"size=1m\"]}]" \
    -- sh -c 'cat /etc/from-host; echo x >/etc/from-host 2>&1; grep -c " /tmp/escape-[0-9]* tmpfs" /proc/mounts'
out=$(log_of mounts)
assert_contains "$out" "stdout:from the host" "bind mount of a host file"
assert_contains "$out" "Read-only file system" "ro bind mount"
assert_contains "$out" "stdout:1" "symlinked destination resolved inside the rootfs"
[ ! -e "/tmp/escape-$$" ] || fail "a mount destination escaped the rootfs"

# --- pause, exec, kill, shim independence ------------------------------------------------

bundle sleeper -- sleep 1000
"$API" start "$T/sleeper"
assert_eq "$(state_of sleeper running)" 1 "sleeper running"
pid=$(container_pid sleeper)
"$API" pause "$T/sleeper"
assert_eq "$(state_of sleeper paused)" 1 "paused after runtime_pause"
"$API" unpause "$T/sleeper"
assert_eq "$(state_of sleeper paused)" 0 "running after runtime_pause(false)"
"$API" stats "$T/sleeper" | grep -c "^pids_current=1$" >/dev/null || fail "stats: one process"

printf '{"args":["sh","-c","hostname; echo $$; id -u"],"env":["PATH=/bin"],"user":"nobody"}' >"$T/exec.json"
out=$("$RT_BERTHD" nsexec "$pid" "$T/exec.json")
assert_eq "$out" "$(printf 'h-sleeper\n2\n65534')" "nsexec joins the container's namespaces"
printf '{"args":["nope"],"env":["PATH=/bin"]}' >"$T/exec-missing.json"
rc=0
"$RT_BERTHD" nsexec "$pid" "$T/exec-missing.json" 2>"$T/exec.err" || rc=$?
assert_eq "$rc" 127 "nsexec of a missing command"
assert_contains "$(cat "$T/exec.err")" 'exec: "nope": executable file not found in $PATH'

"$API" kill "$T/sleeper" 9
wait_exited sleeper
assert_eq "$(state_of sleeper exit_code)" 137 "SIGKILL records 137"

bundle orphan -- sleep 1000
bash -c '"$1" shim "$2"; exec sleep 1000' _ "$RT_BERTHD" "$T/orphan" &
sub=$!
wait_for 10 "orphan's shim.pid" test -e "$T/orphan/shim.pid"
kill -9 "$sub"
wait "$sub" 2>/dev/null || true
running orphan || fail "container died with the shim's parent"
kill -TERM "$(container_pid orphan)" # pid 1 ignores SIGTERM without a handler, as in Docker
running orphan || fail "SIGTERM killed a pid 1 without a handler"
"$API" kill "$T/orphan" 9
wait_exited orphan
assert_eq "$(state_of orphan exit_code)" 137 "exit recorded by the orphaned shim"

# --- nothing left behind -----------------------------------------------------------------

for b in "${BUNDLES[@]}"; do
    [ -f "$b/shim.pid" ] || continue
    pid=$(cat "$b/shim.pid")
    wait_for 10 "shim $pid to exit" bash -c "! kill -0 $pid 2>/dev/null"
done
assert_eq "$(grep -c "$T" /proc/mounts || true)" 0 "mounts left behind"
left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*/$CGP/*" 2>/dev/null)
assert_eq "$left" "" "container cgroups left behind"
echo "PASS test_runtime"
