#!/usr/bin/env python3
"""Timing, memory and report helper for tests/bench/run.sh (make bench).

Subcommands (every one reads and updates the JSON results file given with --db):
  time    run cases round-robin (after warm-ups) and record per-run wall times
  rss     record VmRSS of berthd, its shims and podman's conmons
  note    record a free-text note shown in the report
  env     record machine and version facts
  report  write the markdown summary (build/bench/results.md) and print it
  check   fail unless the required cases have measurements

A case is either a command line run as a child process (the docker or podman CLI, whose
start-up cost is part of what is measured), or the Docker Engine API driven directly over a
unix socket from this process, each request on a new connection as the docker CLI does:
POST /containers/create, POST /containers/{id}/start, POST /containers/{id}/wait?condition=
not-running, DELETE /containers/{id} with no attach (OPTS "-" or "ulimits"); or, with OPTS
"attach", the exact request sequence of `docker run --rm` (see api_run). The API cases
separate the engine's time from the docker CLI's own.
"""
import argparse
import http.client
import json
import math
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time

API = "/v1.41"
RUN_TIMEOUT = 120  # seconds for any single run of a case


def load(db):
    try:
        with open(db) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(db, data):
    tmp = db + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, db)


# ---- the API client --------------------------------------------------------------------


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=RUN_TIMEOUT)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(RUN_TIMEOUT)
        s.connect(self.unix_path)
        self.sock = s


def api_call(sock, method, url, body=None):
    conn = UnixConnection(sock)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, API + url, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    if resp.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, url, resp.status, payload[:300].decode(errors="replace")))
    return json.loads(payload) if payload else None


def raw_request(sock, method, url):
    """Send a body-less request on a new connection; return the socket once the status line and
    headers are in, with any bytes read past them."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(RUN_TIMEOUT)
    s.connect(sock)
    s.sendall(("%s %s%s HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" % (method, API, url)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("%s %s: connection closed before the headers" % (method, url))
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    if status not in (101, 200):
        raise RuntimeError("%s %s: %d %s" % (method, url, status, head[:200]))
    return s, rest


def read_until(s, rest, done):
    """Read S until DONE(data) or EOF."""
    data = rest
    while not done(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def api_run(case):
    """One container run through the API; returns (total_s, {phase: s}).

    Plain: create, start, wait (not-running), delete: the engine's own work with no output.
    "attach": the docker CLI's `run --rm` sequence without the CLI: create with AutoRemove,
    attach (hijacked), wait?condition=removed (its headers come before the start), start, then
    the attach stream to its end and the wait's answer."""
    host = {"NetworkMode": case["network"]}
    if "ulimits" in case["opts"]:
        host["Ulimits"] = [{"Name": n, "Soft": 1024, "Hard": 1024} for n in ("nofile", "nproc")]
    attach = "attach" in case["opts"]
    if attach:
        host["AutoRemove"] = True
    body = {"Image": case["image"], "Cmd": ["true"], "HostConfig": host,
            "AttachStdout": attach, "AttachStderr": attach}
    sock = case["sock"]
    t0 = time.perf_counter()
    cid = api_call(sock, "POST", "/containers/create", body)["Id"]
    if os.environ.get("BENCH_IDS"):
        with open(os.environ["BENCH_IDS"], "a") as f:
            f.write("%s %s\n" % (case["name"], cid))
    t1 = time.perf_counter()
    if attach:
        a, a_rest = raw_request(sock, "POST", "/containers/%s/attach?stream=1&stdout=1&stderr=1" % cid)
        w, w_rest = raw_request(sock, "POST", "/containers/%s/wait?condition=removed" % cid)
        t1 = time.perf_counter()
        try:
            api_call(sock, "POST", "/containers/%s/start" % cid)
            t2 = time.perf_counter()
            read_until(a, a_rest, lambda d: False)
            body = read_until(w, w_rest, lambda d: b"StatusCode" in d and b"}" in d.split(b"StatusCode", 1)[1])
        finally:
            a.close()
            w.close()
        t3 = t4 = time.perf_counter()
        if b'"StatusCode":0' not in body.replace(b" ", b""):
            raise RuntimeError("wait answered %r" % body[-200:])
        return t4 - t0, {"create": t1 - t0, "start": t2 - t1, "wait": t3 - t2, "delete": 0.0}
    api_call(sock, "POST", "/containers/%s/start" % cid)
    t2 = time.perf_counter()
    res = api_call(sock, "POST", "/containers/%s/wait?condition=not-running" % cid)
    t3 = time.perf_counter()
    api_call(sock, "DELETE", "/containers/%s" % cid)
    t4 = time.perf_counter()
    if res.get("StatusCode") != 0:
        raise RuntimeError("container exited with %s" % res.get("StatusCode"))
    return t4 - t0, {"create": t1 - t0, "start": t2 - t1, "wait": t3 - t2, "delete": t4 - t3}


def cli_run(case):
    t0 = time.perf_counter()
    p = subprocess.run(case["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-400:]))
    return dt, None


def run_once(case):
    try:
        return (api_run if case["kind"] == "api" else cli_run)(case)
    except (OSError, RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        return None, str(e)


def stats(samples_ms):
    s = sorted(samples_ms)
    n = len(s)
    if n == 0:
        return None
    return {
        "n": n,
        "median": statistics.median(s),
        "p90": s[max(0, math.ceil(0.9 * n) - 1)],
        "mean": statistics.fmean(s),
        "min": s[0],
        "max": s[-1],
        "stdev": statistics.stdev(s) if n > 1 else 0.0,
    }


def cmd_time(a):
    cases = []
    for spec in a.cases or []:
        if len(spec) == 3:
            name, label, cmd = spec
            cases.append({"name": name, "label": label, "kind": "cli", "argv": shlex.split(cmd),
                          "cmd": cmd})
        else:
            name, label, sock, image, network, opts = spec
            opts = [o for o in opts.split(",") if o and o != "-"]
            what = ("create(AutoRemove)+attach+wait(removed)+start" if "attach" in opts
                    else "create+start+wait+delete")
            cases.append({"name": name, "label": label, "kind": "api", "sock": sock,
                          "image": image, "network": network, "opts": opts,
                          "cmd": "API %s, %s, NetworkMode=%s"
                          % (what, os.path.basename(sock), network)})
    for c in cases:
        c.update(samples=[], phases=[], errors=[], failed=None)
    # Warm-ups, interleaved: a case whose warm-ups all fail is dropped, with the reason.
    for _ in range(a.warmup):
        for c in cases:
            if c["failed"] is None and c.get("warm_ok") is not True:
                dt, info = run_once(c)
                if dt is None:
                    c["errors"].append(info)
                else:
                    c["warm_ok"] = True
    for c in cases:
        if a.warmup and not c.get("warm_ok"):
            c["failed"] = c["errors"][-1] if c["errors"] else "warm-up failed"
            print("bench: %s: every warm-up failed: %s" % (c["name"], c["failed"]), file=sys.stderr)
    # Measured runs, round-robin so that drift in the machine's load hits every case alike.
    for i in range(a.n):
        for c in cases:
            if c["failed"] is not None:
                continue
            dt, info = run_once(c)
            if dt is None:
                c["errors"].append(info)
                if len(c["errors"]) > a.max_errors:
                    c["failed"] = "too many failed runs: " + info
                continue
            c["samples"].append(dt * 1000.0)
            if info:
                c["phases"].append({k: v * 1000.0 for k, v in info.items()})
        print("bench: round %d/%d done" % (i + 1, a.n), file=sys.stderr)
    data = load(a.db)
    group = data.setdefault("groups", {}).setdefault(a.group, {"title": a.title, "cases": []})
    group["title"] = a.title
    for c in cases:
        entry = {k: c[k] for k in ("name", "label", "kind", "cmd", "failed", "errors", "samples")}
        entry["stats"] = stats(c["samples"])
        if c["phases"]:
            entry["phases"] = {k: statistics.median(p[k] for p in c["phases"]) for k in c["phases"][0]}
        group["cases"] = [x for x in group["cases"] if x["name"] != c["name"]] + [entry]
        st = entry["stats"]
        if st:
            print("bench: %-24s median %7.1f ms  p90 %7.1f ms  mean %7.1f ms  (n=%d, errors %d)"
                  % (c["name"], st["median"], st["p90"], st["mean"], st["n"], len(c["errors"])),
                  file=sys.stderr)
        else:
            print("bench: %-24s FAILED: %s" % (c["name"], c["failed"]), file=sys.stderr)
    save(a.db, data)
    return 0


# ---- memory ----------------------------------------------------------------------------


def vmrss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def berth_shims(exec_root):
    """(container id, shim pid) of every running container of this berthd."""
    out = []
    base = os.path.join(exec_root, "containers")
    for cid in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, cid, "state.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            continue
        if st.get("status") == "running" and st.get("shim_pid"):
            out.append((cid, int(st["shim_pid"])))
    return out


def conmons(podman_root):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            cl = cmdline(int(d))
            if cl.split(" ")[0].endswith("conmon") and podman_root in cl:
                out.append(int(d))
    return sorted(out)


def cmd_rss(a):
    snap = {"label": a.title, "berthd_kib": vmrss_kib(a.berthd), "shims": [], "conmons": []}
    if a.exec_root:
        for cid, pid in berth_shims(a.exec_root):
            snap["shims"].append({"id": cid[:12], "pid": pid, "kib": vmrss_kib(pid)})
    if a.podman_root:
        for pid in conmons(a.podman_root):
            snap["conmons"].append({"pid": pid, "kib": vmrss_kib(pid)})
    data = load(a.db)
    data.setdefault("rss", {})[a.key] = snap
    save(a.db, data)
    print("bench: %s: berthd VmRSS %s KiB, %d shims, %d conmons"
          % (a.title, snap["berthd_kib"], len(snap["shims"]), len(snap["conmons"])), file=sys.stderr)
    return 0


# ---- notes and environment -------------------------------------------------------------


def cmd_note(a):
    data = load(a.db)
    data.setdefault("notes", []).append(a.text)
    save(a.db, data)
    return 0


def first_line(argv):
    try:
        p = subprocess.run(argv, capture_output=True, timeout=30)
        return (p.stdout or p.stderr).decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


def fs_type(path):
    try:
        return subprocess.run(["stat", "-fc", "%T", path], capture_output=True,
                              timeout=10).stdout.decode().strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cgroup_layout():
    if fs_type("/sys/fs/cgroup") == "cgroup2fs":
        return "unified (cgroup v2 only)"
    v1 = sorted(d for d in os.listdir("/sys/fs/cgroup")
                if fs_type(os.path.join("/sys/fs/cgroup", d)) == "cgroupfs")
    if fs_type("/sys/fs/cgroup/unified") == "cgroup2fs":
        return "hybrid: v1 controllers (%s) + v2 at /sys/fs/cgroup/unified" % ", ".join(v1)
    return "legacy (cgroup v1 only: %s)" % ", ".join(v1)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def cmd_env(a):
    env = {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "os": first_line(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "cgroups": cgroup_layout(),
        "docker CLI": first_line(["docker", "--version"]),
        "podman": first_line(["podman", "--version"]),
        "runc": first_line(["runc", "--version"]),
        "conmon": first_line(["conmon", "--version"]),
        "netavark": first_line(["/usr/lib/podman/netavark", "--version"]),
        "python3": platform.python_version(),
        "load average (1, 5, 15 min) at start": loadavg(),
    }
    try:
        v = api_call(a.sock, "GET", "/version")
        env["berthd"] = "%s (API %s, commit %s, %s)" % (v.get("Version"), v.get("ApiVersion"),
                                                         v.get("GitCommit"), v.get("GoVersion"))
        info = api_call(a.sock, "GET", "/info")
        env["berthd cgroups"] = "CgroupVersion %s, driver %s" % (info.get("CgroupVersion"),
                                                                  info.get("CgroupDriver"))
    except (OSError, RuntimeError, ValueError) as e:
        env["berthd"] = "unavailable: %s" % e
    for kv in a.set or []:
        k, _, v = kv.partition("=")
        env[k] = v
    data = load(a.db)
    data.setdefault("env", {}).update(env)
    save(a.db, data)
    return 0


# ---- report ----------------------------------------------------------------------------


def fmt(v):
    return "%.1f" % v if v is not None else "-"


def case_of(group, name):
    for c in group["cases"]:
        if c["name"] == name:
            return c
    return None


def median_of(group, name):
    c = case_of(group, name) if group else None
    return c["stats"]["median"] if c and c.get("stats") else None


def ratio(num, den):
    return "%.2fx" % (num / den) if num and den else "-"


def cmd_report(a):
    data = load(a.db)
    text = json.dumps(data)
    for alias in a.alias or []:
        long, _, short = alias.partition("=")
        text = text.replace(json.dumps(long)[1:-1], json.dumps(short)[1:-1])
    if a.strip:
        text = text.replace(json.dumps(a.strip)[1:-1], "$T")
    data = json.loads(text)
    env = data.get("env", {})
    out = ["# berthd vs podman+runc: `make bench` results", ""]
    out.append("Generated %s by tests/bench/run.sh; times are wall-clock milliseconds per "
               "container run, N measured runs per case after warm-ups, cases interleaved "
               "round-robin." % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    out += ["", "## Machine and versions", "", "| | |", "| --- | --- |"]
    for k in sorted(env):
        out.append("| %s | %s |" % (k, env[k].replace("|", "\\|")))
    for gname, group in sorted(data.get("groups", {}).items()):
        out += ["", "## " + group["title"], "",
                "| case | command | median | p90 | mean | min | max | n | failed runs |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in group["cases"]:
            st = c.get("stats")
            if st is None:
                out.append("| %s | `%s` | FAILED: %s | | | | | 0 | %d |"
                           % (c["label"], c["cmd"], (c["failed"] or "").replace("|", "/")[:200],
                              len(c["errors"])))
                continue
            out.append("| %s | `%s` | %s | %s | %s | %s | %s | %d | %d |"
                       % (c["label"], c["cmd"], fmt(st["median"]), fmt(st["p90"]), fmt(st["mean"]),
                          fmt(st["min"]), fmt(st["max"]), st["n"], len(c["errors"])))
        phased = [c for c in group["cases"] if c.get("phases")]
        if phased:
            out += ["", "API phases (median ms):", "", "| case | create | start | wait | delete |",
                    "| --- | --- | --- | --- | --- |"]
            for c in phased:
                p = c["phases"]
                out.append("| %s | %s | %s | %s | %s |" % (c["label"], fmt(p["create"]), fmt(p["start"]),
                                                           fmt(p["wait"]), fmt(p["delete"])))
        ratios = []
        for num, den, text in RATIOS.get(gname, []):
            n, d = median_of(group, num), median_of(group, den)
            ratios.append("| %s | %s |" % (text, ratio(n, d)))
        if ratios:
            out += ["", "| ratio of medians | value |", "| --- | --- |"] + ratios
        for num, den, what in TARGETS.get(gname, []):
            n, d = median_of(group, num), median_of(group, den)
            verdict = "not measured" if not (n and d) else (
                "met" if n / d >= TARGET else "NOT met")
            out.append("")
            out.append("Target (berthd at least %gx faster than podman+runc), %s: **%s** (%s)."
                       % (TARGET, what, verdict, ratio(n, d)))
        errs = [(c["label"], e) for c in group["cases"] for e in c["errors"][:3]]
        if errs:
            out += ["", "Failed runs (first ones per case):", ""]
            out += ["- %s: %s" % (l, e.replace("\n", " ")[:300]) for l, e in errs]
    rss = data.get("rss", {})
    if rss:
        out += ["", "## Memory (VmRSS)", "", "| when | berthd | shims (count, total, each) | "
                "podman conmons (count, total, each) |", "| --- | --- | --- | --- |"]
        for key in sorted(rss):
            s = rss[key]
            shims = ", ".join("%s" % x["kib"] for x in s["shims"])
            cons = ", ".join("%s" % x["kib"] for x in s["conmons"])
            out.append("| %s | %s KiB | %d, %s KiB [%s] | %d, %s KiB [%s] |"
                       % (s["label"], s["berthd_kib"], len(s["shims"]),
                          sum(x["kib"] or 0 for x in s["shims"]), shims, len(s["conmons"]),
                          sum(x["kib"] or 0 for x in s["conmons"]), cons))
    if data.get("notes"):
        out += ["", "## Notes", ""] + ["- " + n for n in data["notes"]]
    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def cmd_check(a):
    """Exit 1 unless every GROUP/CASE in --require has measurements."""
    data = load(a.db)
    missing = []
    for req in a.require:
        g, _, name = req.partition("/")
        c = case_of(data.get("groups", {}).get(g, {"cases": []}), name)
        if c is None or not c.get("stats"):
            missing.append("%s (%s)" % (req, c["failed"] if c else "not run"))
    for m in missing:
        print("bench: required case failed: " + m, file=sys.stderr)
    return 1 if missing else 0


# The target for `run --rm IMAGE true`, checked in the report (never asserted).
TARGET = 5.0
TARGETS = {"a": [("podman-cli", "berthd-cli", "driven by the docker CLI"),
                 ("podman-cli", "berthd-api-run", "docker run's API requests without the CLI"),
                 ("podman-cli", "berthd-api", "API create+start+wait+delete")]}

# Ratios shown per benchmark group: (numerator case, denominator case, description).
RATIOS = {
    "a": [
        ("podman-cli", "berthd-cli", "podman+runc CLI / berthd via docker CLI"),
        ("podman-cli", "berthd-api", "podman+runc CLI / berthd via the API"),
        ("podman-cli", "berthd-api-run", "podman+runc CLI / berthd via the API, docker run's requests"),
        ("podman-api", "berthd-api", "podman service API / berthd API (same client)"),
        ("berthd-cli", "berthd-api-run", "berthd: docker CLI / the same requests without the CLI"),
    ],
    "b": [
        ("podman-cli", "berthd-cli", "podman+runc CLI (bridge) / berthd via docker CLI (bridge)"),
        ("podman-cli", "berthd-api", "podman+runc CLI (bridge) / berthd via the API (bridge)"),
    ],
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time")
    t.add_argument("--db", required=True)
    t.add_argument("--group", required=True)
    t.add_argument("--title", required=True)
    t.add_argument("--n", type=int, default=30)
    t.add_argument("--warmup", type=int, default=3)
    t.add_argument("--max-errors", type=int, default=3)
    # Both kinds go to one list so that the report keeps the order they were given in.
    t.add_argument("--cli", nargs=3, action="append", dest="cases", metavar=("NAME", "LABEL", "CMD"))
    t.add_argument("--api", nargs=6, action="append", dest="cases",
                   metavar=("NAME", "LABEL", "SOCK", "IMAGE", "NETWORK", "OPTS"))
    r = sub.add_parser("rss")
    r.add_argument("--db", required=True)
    r.add_argument("--key", required=True)
    r.add_argument("--title", required=True)
    r.add_argument("--berthd", type=int, required=True)
    r.add_argument("--exec-root")
    r.add_argument("--podman-root")
    n = sub.add_parser("note")
    n.add_argument("--db", required=True)
    n.add_argument("text")
    e = sub.add_parser("env")
    e.add_argument("--db", required=True)
    e.add_argument("--sock", required=True)
    e.add_argument("--set", action="append")
    o = sub.add_parser("report")
    o.add_argument("--db", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--strip", help="a temp dir path shown as $T")
    o.add_argument("--alias", action="append", help="LONG=SHORT: show text LONG as SHORT")
    c = sub.add_parser("check")
    c.add_argument("--db", required=True)
    c.add_argument("--require", nargs="+", required=True)
    a = p.parse_args()
    if a.cmd == "time" and (a.n < 1 or a.n > 1000 or a.warmup < 0 or a.warmup > 100):
        p.error("--n must be 1..1000 and --warmup 0..100")
    return {"time": cmd_time, "rss": cmd_rss, "note": cmd_note, "env": cmd_env,
            "report": cmd_report, "check": cmd_check}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
