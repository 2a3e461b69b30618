#!/usr/bin/env bash
# docker-py (python3-docker) against berthd over the unix socket: containers.run detached and
# in the foreground (output, ContainerError with the exit code and stderr, remove=True),
# containers.list with and without all and with label and status filters (docker-py sends
# lists), get, attrs, logs (all, stream, tail), exec_run (output, exit code, demux,
# environment, working directory), stop, wait, restart, rename, remove(force=True), and the
# errors for what is missing. Needs root, busybox-static and python3 with docker-py.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"

"$DOCKER_PY" -c 'import docker' 2>/dev/null || fail "docker-py is missing (apt-get install python3-docker)"
echo "docker-py $("$DOCKER_PY" -c 'import docker; print(docker.__version__)')"
export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
IMG=$(dk import "$T/busybox.tar" busybox:latest) || fail "docker import: $IMG"

cat >"$T/dockerpy.py" <<'EOF'
import sys
import time

import docker

checks = 0


def check(got, want, what):
    global checks
    if got != want:
        sys.exit("FAIL: %s: expected %r, got %r" % (what, want, got))
    checks += 1


def poll(cond, what, secs=20):
    deadline = time.monotonic() + secs
    while not cond():
        if time.monotonic() > deadline:
            sys.exit("FAIL: timed out waiting for " + what)
        time.sleep(0.05)


c = docker.from_env()
check(c.ping(), True, "ping")
check(c.images.get("busybox").id, sys.argv[1], "the image")

# Detached run, list, get, logs.
ticker = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
k = c.containers.run("busybox", ["sh", "-c", ticker], detach=True, name="py1",
                     labels={"team": "py"})
check(len(k.id), 64, "run(detach=True) returns a container")
check([x.name for x in c.containers.list()], ["py1"], "list()")
check(c.containers.get("py1").id, k.id, "get by name")
check(c.containers.get(k.id[:12]).name, "py1", "get by short id")
k.reload()
check(k.status, "running", "status after reload")
check(k.attrs["Config"]["Labels"], {"team": "py"}, "labels")
check(k.attrs["HostConfig"]["LogConfig"]["Type"], "json-file", "default log driver recorded")
check([x.name for x in c.containers.list(filters={"label": ["team=py"]})], ["py1"],
      "list with a label filter (docker-py's list form)")
check(c.containers.list(filters={"label": ["team=other"]}), [], "label filter, no match")
check([x.name for x in c.containers.list(filters={"status": "running"})], ["py1"],
      "status filter")
poll(lambda: b"tick 3\n" in k.logs(), "py1 to log tick 3")
check(k.logs().split(b"\n")[:2], [b"tick 0", b"tick 1"], "logs()")
check(len(k.logs(tail=2).splitlines()), 2, "logs(tail=2)")
stream = k.logs(stream=True, follow=True)
first = next(stream)
check(first.startswith(b"tick "), True, "logs(stream=True) yields lines")
stream.close()

# exec_run.
check(tuple(k.exec_run("echo hi")), (0, b"hi\n"), "exec_run")
check(k.exec_run(["sh", "-c", "exit 3"]).exit_code, 3, "exec_run exit code")
check(k.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True).output, (b"o\n", b"e\n"),
      "exec_run demux")
check(k.exec_run(["sh", "-c", "echo $A $(pwd)"], environment={"A": "b"}, workdir="/tmp").output,
      b"b /tmp\n", "exec_run environment and workdir")
check(k.exec_run("nosuchcmd").exit_code, 127, "exec_run of a missing command")

# stop, wait, restart, rename.
k.stop(timeout=1)
k.reload()
check(k.status, "exited", "status after stop")
check(k.wait()["StatusCode"], 137, "wait() on a stopped container")
k.restart(timeout=1)
k.reload()
check(k.status, "running", "status after restart")
k.rename("py2")
check([x.name for x in c.containers.list()], ["py2"], "list after rename")

# Foreground run: output, errors, remove=True.
check(c.containers.run("busybox", "echo foreground", remove=True), b"foreground\n",
      "run() in the foreground")
try:
    c.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    sys.exit("FAIL: a failing run raised nothing")
except docker.errors.ContainerError as e:
    check((e.exit_status, e.stderr), (3, b"bad\n"), "ContainerError")
try:
    c.containers.run("nosuchimage:1", "true")
    sys.exit("FAIL: a missing image raised nothing")
except docker.errors.ImageNotFound:
    checks += 1
except docker.errors.APIError as e:
    check("not implemented" in str(e) or "No such image" in str(e), True, "missing image: %s" % e)
check([x.name for x in c.containers.list(all=True)], ["py2"], "remove=True left nothing")

# remove(force=True) of a running container.
k.remove(force=True)
check(c.containers.list(all=True), [], "list(all=True) after remove(force=True)")
try:
    c.containers.get("py2")
    sys.exit("FAIL: get of a removed container worked")
except docker.errors.NotFound:
    checks += 1
print("%d checks" % checks)
EOF
OUT=$(timeout 120 "$DOCKER_PY" "$T/dockerpy.py" "$IMG" 2>&1) || fail "docker-py: $OUT"
echo "$OUT"

finish
echo "test_berthd_dockerpy: all checks passed"
