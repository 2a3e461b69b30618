#!/usr/bin/env bash
# docker commit, docker diff and docker export against berthd with the docker CLI: a commit
# with -m -a -c keeps the container's files, deletions and opaque directories, runs, survives
# save/load with the same layers and shows in history; diff lists A/C/D; export has the
# container's whole file system; commits of running and paused containers; the errors.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
export DOCKER_HOST=unix://$SOCK

busybox_tar "$T/busybox.tar"
start_berthd
dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null || fail "import busybox"
# A base with a directory to make opaque and a file to delete.
dk run --name base busybox sh -c 'mkdir -p /srv/old && echo x >/srv/old/a && echo y >/etc/motd' \
    >/dev/null || fail "run base"
dk commit base base:1 >/dev/null || fail "commit base"
dk rm base >/dev/null

# --- a stopped container: diff, commit, run ---
dk run --name c1 -v /data base:1 sh -c 'echo hello >/file; rm /etc/motd; rm -rf /srv/old;
    mkdir /srv/old; echo new >/srv/old/b; ln /file /hard; ln -s /file /sym; echo v >/data/v;
    mkdir -p /tmp/sub' >/dev/null || fail "run c1"
OUT=$(dk diff c1) || fail "docker diff: $OUT"
assert_eq "$OUT" "A /data
C /etc
D /etc/motd
A /file
A /hard
C /srv
D /srv/old
A /srv/old/b
A /sym
C /tmp
A /tmp/sub" "docker diff"
ID=$(dk commit -m "my message" -a "Jane <j@x>" -c 'CMD ["cat", "/file"]' -c 'EXPOSE 8080' \
    -c 'ENV A=b' c1 img:1) || fail "docker commit: $ID"
[[ "$ID" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "docker commit printed [$ID]"
assert_eq "$(dk image inspect img:1 --format '{{.Id}}')" "$ID" "tagged"
assert_eq "$(dk image inspect img:1 --format '{{json .Config.Cmd}} {{json .Config.ExposedPorts}}')" \
    '["cat","/file"] {"8080/tcp":{}}' "config from -c"
assert_contains "$(dk image inspect img:1 --format '{{json .Config.Env}}')" '"A=b"' "ENV"
assert_eq "$(dk image inspect img:1 --format '{{.Comment}}|{{.Author}}|{{json .Config.Volumes}}')" \
    'my message|Jane <j@x>|{"/data":{}}' "comment, author, the container's volume"
assert_eq "$(dk run --rm img:1)" "hello" "the committed image runs"
assert_eq "$(dk run --rm img:1 sh -c 'cat /hard; readlink /sym; ls /srv/old; ls /etc/motd 2>&1;
    ls /data; stat -c %h /file')" "hello
/file
b
ls: /etc/motd: No such file or directory
2" "files, links, deletion, opaque dir; no volume content"
# berthd's own mount points (/etc/hosts and friends, /proc, /sys, /dev) are not in the layer.
dk save img:1 -o "$T/img.tar" || fail "docker save"
mkdir "$T/x" && tar -C "$T/x" -xf "$T/img.tar" || fail "untar save"
TOP=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))[0]; print(m["Layers"][-1])' \
    "$T/x/manifest.json")
LIST=$(tar -tf "$T/x/$TOP" | tr '\n' ' ')
assert_eq "$LIST" "data/ etc/ etc/.wh.motd file hard srv/ srv/old/ srv/old/.wh..wh..opq srv/old/b sym tmp/ tmp/sub/ " \
    "the new layer's entries"
assert_contains "$(tar -tvf "$T/x/$TOP" | grep ' hard')" "link to file" "hard link kept"

# history shows the new layer with Docker's created_by and the comment.
H=$(dk history --no-trunc --format '{{.Comment}}|{{.CreatedBy}}' img:1)
assert_contains "$(head -1 <<<"$H")" "my message|sh -c echo hello >/file; rm /etc/motd;" "history"
assert_eq "$(dk history -q img:1 | wc -l)" 3 "history has the new layer"

# --- save | load keeps the DiffIDs ---
DIFFS=$(dk image inspect img:1 --format '{{json .RootFS.Layers}}')
dk rmi img:1 >/dev/null || fail "rmi img:1"
dk load -i "$T/img.tar" >/dev/null || fail "docker load"
assert_eq "$(dk image inspect img:1 --format '{{.Id}} {{json .RootFS.Layers}}')" "$ID $DIFFS" \
    "save/load round trip"
assert_eq "$(dk run --rm img:1)" "hello" "the loaded image runs"

# --- export ---
dk export c1 -o "$T/c1.tar" || fail "docker export"
LIST=$(tar -tf "$T/c1.tar")
for f in file hard sym bin/busybox srv/old/b etc/passwd data/ proc/; do
    grep -qx -- "$f" <<<"$LIST" || grep -qx -- "$f/" <<<"$LIST" || fail "export lacks $f"
done
grep -q '^etc/motd$' <<<"$LIST" && fail "export has the deleted /etc/motd"
grep -q '^srv/old/a$' <<<"$LIST" && fail "export has a file hidden by an opaque dir"
grep -q '^data/v$' <<<"$LIST" && fail "export has volume content"
assert_eq "$(tar -xOf "$T/c1.tar" file)" "hello" "exported content"
dk export c1 | tar -t >/dev/null || fail "docker export to stdout"

# --- a running container, paused by default, and one already paused ---
dk run -d --name r1 busybox sh -c 'echo run >/running; sleep 300' >/dev/null || fail "run r1"
wait_for 10 "r1 to write" sh -c "docker exec r1 cat /running"
assert_eq "$(dk diff r1)" "A /running" "diff of a running container"
dk commit r1 img:2 >/dev/null || fail "commit running"
assert_eq "$(dk inspect r1 --format '{{.State.Status}}')" running "unpaused after the commit"
assert_eq "$(dk run --rm img:2 cat /running)" run "committed running container"
assert_eq "$(dk image inspect img:2 --format '{{json .Config.Cmd}}')" \
    '["sh","-c","echo run >/running; sleep 300"]' "the container's Cmd is the image's"
dk export r1 | tar -t | grep -cx running >/dev/null || fail "export of a running container"
dk pause r1 >/dev/null || fail "pause"
dk commit --pause=false r1 img:3 >/dev/null || fail "commit paused"
assert_eq "$(dk inspect r1 --format '{{.State.Status}}')" paused "still paused"
dk unpause r1 >/dev/null
# A commit that changes nothing adds no layer.
dk run --name same busybox true >/dev/null || fail "run same"
dk commit same img:4 >/dev/null || fail "commit nothing"
assert_eq "$(dk image inspect img:4 --format '{{len .RootFS.Layers}}')" 1 "empty commit"

# --- errors ---
expect_fail dk commit nosuch img:5
assert_contains "$ERR" "No such container: nosuch"
expect_fail dk diff nosuch
assert_contains "$ERR" "No such container: nosuch"
expect_fail dk export nosuch
assert_contains "$ERR" "No such container: nosuch"
expect_fail dk commit -c 'RUN true' c1 img:5
assert_contains "$ERR" "RUN is not a valid change command"
expect_fail dk commit c1 'Bad:Ref'
assert_contains "$ERR" "invalid reference format"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -X POST 'http://x/commit?container=nosuch')" 404 \
    "commit status"

finish
echo "test_berthd_commit: all checks passed"
