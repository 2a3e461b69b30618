#!/usr/bin/env bash
# docker cp against berthd (the archive API: HEAD stat, GET, PUT), on stopped and running
# containers: a tree with files, directories, symlinks, hard links, a FIFO, setuid/setgid/
# sticky modes and times round trips both ways; ownership comes with the tar (and with -a the
# container's user owns what is copied in); "dir/." copies contents; volumes and binds are seen
# by cp; read-only volumes and rootfs refuse; symlinks in the container that point at "/", at
# "../../.." or at host paths (and hostile tar entries) never make cp read or write a host
# file; berthd SIGKILLed in the middle of a cp leaves no mount behind and a consistent volume
# list. Needs root, busybox-static and the docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
source "$(dirname "$0")/berthd_kill.sh"

export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null || fail "import busybox"

# The source tree, every time set to one whole second so the listing compares times too.
SRC=$T/src/tree
mkdir -p "$SRC/sub/deeper" "$SRC/empty" "$SRC/shared" "$SRC/sticky"
echo a >"$SRC/a"
echo b >"$SRC/sub/b"
echo c >"$SRC/sub/deeper/c"
head -c 100000 /dev/urandom >"$SRC/sub/big"
ln "$SRC/a" "$SRC/sub/a-hardlink"
ln -s a "$SRC/la"
ln -s ../a "$SRC/sub/lup"
ln -s /etc/passwd "$SRC/abs"
ln -s nowhere "$SRC/dangling"
mkfifo "$SRC/fifo"
chown 1234:2345 "$SRC/sub/b"
chmod 0640 "$SRC/a"
chmod 4755 "$SRC/sub/b"
chmod 2775 "$SRC/shared"
chmod 1777 "$SRC/sticky"
chmod 0700 "$SRC/sub/deeper"
chown -h 42:43 "$SRC/la"
find "$SRC" -depth -exec touch -h -d @981173106 {} +

# listing DIR: what a copy must keep (type, mode, links, symlink target, mtime).
listing() {
    (cd "$1" && find . -printf '%p %y %m %n %l %T+\n' | sort)
}
WANT=$(listing "$SRC")

# owners C PATH: "uid/gid name" of each entry of a tar of PATH from C.
owners() {
    dk cp "$1:$2" - | tar --numeric-owner -tvf - | awk '{print $2, $6}'
}

# stat_of C PATH: the decoded X-Docker-Container-Path-Stat of PATH in C.
stat_of() {
    ucurl -sI "http://x/containers/$1/archive?path=$2" |
        sed -n 's/^X-Docker-Container-Path-Stat: //p' | tr -d '\r' | base64 -d
}

# round_trip C TAG: copy the tree into C and back out, and compare.
round_trip() {
    local c=$1 tag=$2 out=$T/out-$2
    dk cp "$SRC" "$c:/tmp/" 2>"$T/err" || fail "$tag: cp in: $(cat "$T/err")"
    dk cp "$c:/tmp/tree" "$out" 2>"$T/err" || fail "$tag: cp out: $(cat "$T/err")"
    assert_eq "$(listing "$out")" "$WANT" "$tag: the tree after a round trip"
    cmp "$SRC/sub/big" "$out/sub/big" || fail "$tag: content differs"
    assert_contains "$(owners "$c" /tmp/tree/sub/b)" "1234/2345 b" "$tag: owner in the container"
    assert_contains "$(owners "$c" /tmp/tree/la)" "42/43 la" "$tag: symlink owner"
    dk cp "$c:/tmp/tree/." "$T/dot-$tag" || fail "$tag: cp of dir/."
    assert_eq "$(listing "$T/dot-$tag")" "$WANT" "$tag: dir/. copies the contents"
    mkdir -p "$T/into-$tag"
    dk cp "$c:/tmp/tree/sub/b" "$T/into-$tag/" || fail "$tag: cp of a file into a dir"
    assert_eq "$(cat "$T/into-$tag/b")" b "$tag: a file into a directory"
    dk cp "$c:/tmp/tree/sub/b" "$T/into-$tag/renamed" || fail "$tag: cp of a file to a new name"
    assert_eq "$(stat -c %a "$T/into-$tag/renamed")" 4755 "$tag: mode of a single file"
}

# --- round trips: stopped, then running -------------------------------------------------------

dk create --name c1 busybox sleep 600 >/dev/null || fail "create c1"
round_trip c1 stopped
assert_contains "$(stat_of c1 /tmp/tree)" '{"name":"tree","size":' "HEAD stat of a directory"
assert_contains "$(stat_of c1 /tmp/tree)" \
    '"mode":2147484141,"mtime":"2001-02-03T04:05:06Z","linkTarget":""}' "HEAD stat of a directory"
assert_contains "$(stat_of c1 /tmp/tree/la)" '"mode":134218239' "HEAD stat of a symlink"
assert_contains "$(stat_of c1 /tmp/tree/la)" '"linkTarget":"/tmp/tree/a"' "the symlink's target"
assert_contains "$(stat_of c1 /tmp/tree/sub/b)" '"mode":8389101' "setuid in the stat mode"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -I 'http://x/containers/c1/archive?path=/nope')" \
    404 "HEAD of a missing path"
expect_fail dk cp c1:/nope "$T/nope"
assert_contains "$ERR" "Could not find the file /nope in container c1"
dk start c1 >/dev/null || fail "start c1"
dk exec c1 rm -rf /tmp/tree || fail "clean c1"
round_trip c1 running
assert_eq "$(dk exec c1 cat /tmp/tree/sub/deeper/c)" c "the container reads what cp wrote"
dk cp c1:/ "$T/whole" || fail "cp of a running container's /"
[ -x "$T/whole/bin/busybox" ] && [ -z "$(ls -A "$T/whole/proc")" ] ||
    fail "cp of / copies files, and /proc only as a directory"

# -a: what is copied in belongs to the container's user (the tar's owners otherwise).
dk create --name c2 --user 4321:4322 busybox true >/dev/null || fail "create c2"
dk cp -a "$SRC/sub" c2:/tmp/ || fail "cp -a"
assert_eq "$(owners c2 /tmp/sub | sort -u | awk '{print $1}' | sort -u | tr '\n' ' ')" "4321/4322 " \
    "cp -a gives everything to the container's user"
dk cp "$SRC/sub" c2:/tmp/plain || fail "cp without -a"
assert_contains "$(owners c2 /tmp/plain/b)" "1234/2345 b" "cp without -a keeps the tar's owner"
dk rm c2 >/dev/null

# --- volumes and binds are part of what cp sees --------------------------------------------------

mkdir -p "$T/bind"
echo bound >"$T/bind/f"
dk create --name c3 -v cpvol:/vol -v "$T/bind:/bind" -v rovol:/ro:ro busybox sleep 600 >/dev/null ||
    fail "create c3"
VOLDATA=$T/data/volumes/cpvol/_data
dk cp "$SRC/a" c3:/vol/ || fail "cp into a stopped container's volume"
assert_eq "$(cat "$VOLDATA/a")" a "cp into the volume reaches the volume"
dk cp c3:/bind/f "$T/bind-out" || fail "cp out of a bind"
assert_eq "$(cat "$T/bind-out")" bound "cp out of a stopped container's bind"
expect_fail dk cp "$SRC/a" c3:/ro/
assert_contains "$ERR" "mounted volume is marked read-only"
dk start c3 >/dev/null || fail "start c3"
dk cp "$SRC/sub/b" c3:/vol/ || fail "cp into a running container's volume"
assert_eq "$(cat "$VOLDATA/b")" b "cp into a running container's volume"
dk cp c3:/vol/a "$T/vol-out" || fail "cp out of a volume"
assert_eq "$(cat "$T/vol-out")" a "cp out of a running container's volume"
expect_fail dk cp "$SRC/a" c3:/ro/
assert_contains "$ERR" "mounted volume is marked read-only"
dk create --name c4 --read-only -v cpvol:/vol busybox true >/dev/null || fail "create c4"
expect_fail dk cp "$SRC/a" c4:/tmp/
assert_contains "$ERR" "container rootfs is marked read-only"
dk cp "$SRC/la" c4:/vol/ || fail "cp into a volume of a read-only container"
dk rm c4 >/dev/null

# --- symlinks in the container never reach the host ----------------------------------------------

mkdir -p "$T/hostdir"
echo canary >"$T/hostdir/canary"
CANARY=$(sha256sum "$T/hostdir/canary")
CTR_PASSWD=$(dk cp c1:/etc/passwd - | tar -xOf -)
[ "$CTR_PASSWD" != "$(cat /etc/passwd)" ] || fail "the container's /etc/passwd is the host's"

# hostile_tar FILE: a symlink to "/" with a file through it to where the host's directory is,
# then a symlink to the host directory (whose target the container lacks) with a file below.
hostile_tar() {
    python3 - "$1" "$T/hostdir" <<'PY'
import io, sys, tarfile
out, hostdir = sys.argv[1], sys.argv[2]
with tarfile.open(out, "w") as t:
    def add(name, kind=tarfile.REGTYPE, link=""):
        i = tarfile.TarInfo(name)
        i.type, i.linkname = kind, link
        data = b"pwned\n" if kind == tarfile.REGTYPE else b""
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    add("root", tarfile.SYMTYPE, "/")
    add("root" + hostdir + "/pwned")
    add("esc", tarfile.SYMTYPE, hostdir + "/sub")
    add("esc/pwned2")
PY
}
hostile_tar "$T/hostile.tar"
python3 -c 'import io,sys,tarfile
t=tarfile.open(sys.argv[1],"w"); i=tarfile.TarInfo("../../../../../../../climb"); i.size=1
t.addfile(i, io.BytesIO(b"x")); t.close()' "$T/climb.tar"
python3 -c 'import sys,tarfile
t=tarfile.open(sys.argv[1],"w"); i=tarfile.TarInfo("hl"); i.type=tarfile.LNKTYPE
i.linkname="../../../../../../etc/passwd"; t.addfile(i); t.close()' "$T/hardlink.tar"

# links C: symlinks in C to "/", above "/", to a host directory and to a host file.
links() {
    dk exec "$1" sh -c "ln -sfn / /escape; ln -sfn ../../../.. /up; ln -sfn '$T/hostdir' /tmp/hostlink; ln -sfn '$T/hostdir/canary' /tmp/hostfile" ||
        fail "make the links in $1"
}

# host_untouched TAG: the host directory holds its canary only, unchanged.
host_untouched() {
    assert_eq "$(ls -A "$T/hostdir")" canary "$1: nothing new in the host directory"
    assert_eq "$(sha256sum "$T/hostdir/canary")" "$CANARY" "$1: the host canary"
    [ ! -e "$T/climb" ] && [ ! -e /climb ] || fail "$1: a climbing entry was written"
}

# put C TAR: PUT TAR into C's /tmp; prints the status.
put() {
    ucurl -o /dev/null -w '%{http_code}' -X PUT -T "$2" "http://x/containers/$1/archive?path=/tmp"
}

# escapes C TAG: the symlink attacks against container C (links made).
escapes() {
    local c=$1 tag=$2
    dk cp "$c:/escape/etc/passwd" "$T/p1-$tag" || fail "$tag: cp through /escape"
    assert_eq "$(cat "$T/p1-$tag")" "$CTR_PASSWD" "$tag: /escape/etc/passwd is the container's"
    dk cp "$c:/up/etc/passwd" "$T/p2-$tag" || fail "$tag: cp through /up"
    assert_eq "$(cat "$T/p2-$tag")" "$CTR_PASSWD" "$tag: /up/etc/passwd is the container's"
    dk cp "$c:/tmp/hostfile" "$T/p3-$tag" || fail "$tag: cp of a symlink"
    [ -L "$T/p3-$tag" ] || fail "$tag: cp without -L copies the link itself"
    expect_fail dk cp -L "$c:/tmp/hostfile" "$T/p4-$tag"
    assert_contains "$ERR" "Could not find the file"
    expect_fail dk cp "$c:/tmp/hostlink/canary" "$T/p5-$tag"
    [ ! -e "$T/p4-$tag" ] && [ ! -e "$T/p5-$tag" ] || fail "$tag: a host file came out"
    dk cp "$T/evil" "$c:/tmp/hostlink/" >/dev/null 2>&1 || true
    dk cp "$T/evil" "$c:/tmp/hostfile" >/dev/null 2>&1 || true
    dk cp "$T/evil" "$c:/escape/tmp/evil-$tag" || fail "$tag: cp into /escape/tmp/"
    dk cp "$T/evil" "$c:/up/tmp/up-evil-$tag" || fail "$tag: cp into /up/tmp/"
    assert_eq "$(put "$c" "$T/climb.tar") $(put "$c" "$T/hardlink.tar")" "400 400" \
        "$tag: entries leaving the extraction point are refused"
    [ "$(put "$c" "$T/hostile.tar")" != 200 ] || fail "$tag: a file below a dangling symlink"
    host_untouched "$tag"
}

echo evil >"$T/evil"
links c1
escapes c1 running
assert_eq "$(dk exec c1 cat /tmp/evil-running /tmp/up-evil-running "$T/hostdir/pwned")" "evil
evil
pwned" "the writes through the links land in the container"
dk create --name c5 busybox sleep 600 >/dev/null && dk start c5 >/dev/null || fail "run c5"
links c5
dk stop -t 1 c5 >/dev/null || fail "stop c5"
escapes c5 stopped
dk start c5 >/dev/null || fail "start c5 after the copies"
assert_eq "$(dk exec c5 cat /tmp/evil-stopped /tmp/up-evil-stopped "$T/hostdir/pwned")" "evil
evil
pwned" "the writes into the stopped container land in it"
# (running containers' network namespaces are mounted under $T/exec/netns: not cp's)
left=$(grep -F " $T/" /proc/mounts | grep -vF " $T/exec/netns/" || true)
[ -z "$left" ] || fail "mounts left by cp: $left"

# --- SIGKILL in the middle of a cp ---------------------------------------------------------------

head -c 64M /dev/zero >"$T/big"
dk create --name k1 -v kvol:/kvol busybox sleep 600 >/dev/null || fail "create k1"
kill_at cp-extract-writing dk cp "$T/big" k1:/kvol/
left=$(grep -F " $T/" /proc/mounts | grep -vF " $T/exec/netns/" || true)
[ -z "$left" ] || fail "mounts left by a killed cp: $left"
assert_eq "$(dk volume ls -q | sort | tr '\n' ' ')" "cpvol kvol rovol " "volumes after a killed cp"
dk cp "$T/big" k1:/kvol/ || fail "cp after the kill"
cmp "$T/big" "$T/data/volumes/kvol/_data/big" || fail "the volume after a second cp"
kill_at cp-archive-writing dk cp k1:/kvol/big "$T/big-out"
dk start k1 >/dev/null || fail "start k1 after a killed cp out of it"
assert_eq "$(dk exec k1 stat -c %s /kvol/big)" 67108864 "k1 runs with its volume"
# Unmarked: kill as soon as the file shows in a running container's volume.
grew() { [ -s "$T/data/volumes/kvol/_data/big2" ]; }
(dk cp "$T/big" k1:/kvol/big2 >/dev/null 2>&1) &
CP=$!
spin "$CP" grew
kill_berthd
wait "$CP" 2>/dev/null || true
start_berthd
assert_eq "$(dk volume ls -q | sort | tr '\n' ' ')" "cpvol kvol rovol " "volumes after a second killed cp"
assert_eq "$(dk inspect -f '{{.State.Status}}' k1)" running "k1 after berthd was killed"
dk rm -fv k1 c1 c3 c5 >/dev/null || fail "rm the containers"
dk volume rm cpvol kvol rovol >/dev/null || fail "rm the volumes"

finish
echo "PASS: berthd cp"
