#!/usr/bin/env bash
# berthd's volumes and bind mounts with the docker CLI: volume create/ls/inspect/rm/prune with
# labels and filters; data written through a named volume is there in the next container; :ro
# refuses writes; an in-use volume cannot be removed (409); -v /path, rm -v and run --rm remove
# anonymous volumes and leave named ones; copy-up fills a new volume from the image (owners and
# modes too); binds of host directories (:ro, rw, made when missing for -v, refused when
# missing for --mount), --mount volume/tmpfs, --tmpfs; --volumes-from chains (data -> test2 ->
# test3), also from a stopped container; inspect and ps Mounts; volumes survive restarts; and
# berthd SIGKILLed during volume create, volume rm and container removal leaves a consistent
# volume list with no half-made or half-removed volume. Needs root, busybox-static and the
# docker CLI.
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
source "$(dirname "$0")/berthd_kill.sh"

export DOCKER_HOST=unix://$SOCK
start_berthd
busybox_tar "$T/busybox.tar"
dk import --change 'CMD ["sh"]' "$T/busybox.tar" busybox:latest >/dev/null || fail "import busybox"
VOLS=$T/data/volumes

vol_data() {
    echo "$VOLS/$1/_data"
}

# The volume mounted at DEST in container C.
mount_name() {
    dk inspect -f "{{range .Mounts}}{{if eq .Destination \"$2\"}}{{.Name}}{{end}}{{end}}" "$1"
}

# check_volumes: what `volume ls` lists is exactly what is on disk, each volume whole (its
# volume.json and _data), and nothing half-made (.new-*) or half-removed (.trash-*) is left.
check_volumes() {
    local listed ondisk v
    listed=$(dk volume ls -q | sort | tr '\n' ' ')
    ondisk=$(ls "$VOLS" | sort | tr '\n' ' ')
    assert_eq "$listed" "$ondisk" "volume ls against $VOLS"
    [ -z "$(ls -A "$VOLS" | grep '^\.' || true)" ] || fail "left in $VOLS: $(ls -A "$VOLS")"
    for v in $listed; do
        [ -f "$VOLS/$v/volume.json" ] && [ -d "$VOLS/$v/_data" ] || fail "volume $v is not whole"
    done
}

# --- volume create, ls, inspect, rm ----------------------------------------------------------

assert_eq "$(dk volume create --label tier=db --label keep v1)" v1 "volume create"
assert_eq "$(dk volume create v1)" v1 "creating an existing volume answers it"
dk volume create v2 >/dev/null || fail "volume create v2"
assert_eq "$(dk volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Labels.tier}}' v1)" \
    "v1 local local $VOLS/v1/_data db" "volume inspect"
[ -d "$VOLS/v1/_data" ] || fail "no $VOLS/v1/_data"
assert_eq "$(dk volume ls -q | tr '\n' ' ')" "v1 v2 " "volume ls"
assert_eq "$(dk volume ls -q -f label=tier=db | tr '\n' ' ')" "v1 " "ls -f label=tier=db"
assert_eq "$(dk volume ls -q -f label=keep -f label=tier | tr '\n' ' ')" "v1 " "ls -f label=keep"
assert_eq "$(dk volume ls -q -f name=2 | tr '\n' ' ')" "v2 " "ls -f name=2"
expect_fail dk volume ls -f bogus=1
assert_contains "$ERR" "invalid filter 'bogus'"
expect_fail dk volume create 'bad/name'
assert_contains "$ERR" "includes invalid characters for a local volume name"
expect_fail dk volume create -o colour=red badopt
assert_contains "$ERR" 'invalid option: "colour"'
expect_fail dk volume inspect nosuch
assert_contains "$ERR" "no such volume"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -X DELETE http://x/volumes/nosuch)" 404 \
    "DELETE of a missing volume"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -X DELETE 'http://x/volumes/nosuch?force=1')" \
    204 "forced DELETE of a missing volume"
dk volume rm v2 >/dev/null || fail "volume rm v2"
check_volumes

# --- named volumes: data outlives containers, :ro, in use ------------------------------------

dk run --rm -v v1:/data busybox sh -c 'echo persisted >/data/f' || fail "write through v1"
assert_eq "$(dk run --rm -v v1:/data busybox cat /data/f)" persisted "v1 in the next container"
assert_eq "$(cat "$(vol_data v1)/f")" persisted "v1's data on the host"
expect_fail dk run --rm -v v1:/data:ro busybox sh -c 'echo x >/data/g'
assert_contains "$ERR" "Read-only file system"
[ ! -e "$(vol_data v1)/g" ] || fail ":ro let a write through"
assert_eq "$(dk run --rm -v v1:/data:ro busybox cat /data/f)" persisted "reading through :ro"
U1=$(dk create --name user1 -v v1:/data busybox true) || fail "create user1"
assert_eq "$(dk inspect -f '{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}}{{end}}' user1)" \
    "volume v1 $VOLS/v1/_data /data local z true" "inspect Mounts of a named volume"
expect_fail dk volume rm v1
assert_contains "$ERR" "remove v1: volume is in use - [$U1]"
expect_fail dk volume rm -f v1
assert_contains "$ERR" "volume is in use"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' -X DELETE http://x/volumes/v1)" 409 "status of rm in use"
assert_contains "$(dk ps -a --format '{{.Names}} {{.Mounts}}')" "user1 v1" "ps Mounts"
assert_eq "$(dk volume ls -q -f dangling=true | tr '\n' ' ')" "" "no dangling volume while used"
dk rm user1 >/dev/null || fail "rm user1"
assert_eq "$(dk volume ls -q -f dangling=true | tr '\n' ' ')" "v1 " "v1 dangling once unused"
dk volume rm v1 >/dev/null || fail "rm v1 once unused"
[ ! -e "$VOLS/v1" ] || fail "v1's directory is left"

# --- anonymous volumes: -v /path, rm -v, run --rm, prune --------------------------------------

ID=$(dk create -v /anon -v keep:/named busybox true) || fail "create with -v /anon"
ANON=$(mount_name "$ID" /anon)
[[ "$ANON" =~ ^[0-9a-f]{64}$ ]] || fail "anonymous volume name [$ANON]"
assert_eq "$(dk volume inspect -f '{{json .Labels}}' "$ANON")" '{"com.docker.volume.anonymous":""}' \
    "the anonymous label"
assert_eq "$(dk inspect -f '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Mode}}|{{.RW}}|{{.Source}}{{end}}{{end}}' "$ID")" \
    "|true|$VOLS/$ANON/_data" "inspect Mounts of an anonymous volume"
dk rm -v "$ID" >/dev/null || fail "rm -v"
[ -z "$(dk volume ls -q -f name="$ANON")" ] || fail "rm -v left the anonymous volume"
dk volume inspect keep >/dev/null || fail "rm -v removed the named volume"
dk run --rm -v /anon2 -v keep:/named busybox sh -c 'echo x >/anon2/x; echo kept >/named/k' ||
    fail "run --rm with volumes"
assert_eq "$(dk volume ls -q | tr '\n' ' ')" "keep " "run --rm removes its anonymous volume only"
assert_eq "$(cat "$(vol_data keep)/k")" kept "the named volume's data after run --rm"
ID=$(dk create -v /anon3 busybox true) || fail "create with -v /anon3"
ANON=$(mount_name "$ID" /anon3)
dk rm "$ID" >/dev/null || fail "rm without -v"
dk volume inspect "$ANON" >/dev/null || fail "rm without -v removed the anonymous volume"
assert_eq "$(dk volume ls -q -f dangling=true | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$ANON" keep | sort | tr '\n' ' ')" "dangling volumes"
OUT=$(dk volume prune -f) || fail "volume prune: $OUT"
assert_contains "$OUT" "$ANON"
assert_eq "$(dk volume ls -q | tr '\n' ' ')" "keep " "prune takes anonymous volumes only"
OUT=$(dk volume prune -af) || fail "volume prune -a: $OUT"
assert_contains "$OUT" "keep"
assert_eq "$(dk volume ls -q | wc -l)" 0 "prune -a takes every unused volume"
check_volumes

# --- copy-up: a new volume starts with the image's content -----------------------------------

R=$T/vroot
mkdir -p "$R/data/sub" "$R/bin"
ln -s /bin/busybox "$R/bin/sh"
cp /bin/busybox "$R/bin/busybox"
for a in cat ls stat sh; do ln -sf busybox "$R/bin/$a"; done
echo seed >"$R/data/seed"
echo deep >"$R/data/sub/deep"
ln -s seed "$R/data/link"
chmod 0640 "$R/data/seed"
chown 1234:2345 "$R/data/seed"
chown 1000:1000 "$R/data"
chmod 0750 "$R/data"
tar -C "$R" -cf "$T/vimg.tar" . || fail "tar the image with a volume"
dk import --change 'VOLUME /data' --change 'CMD ["sh"]' "$T/vimg.tar" vimg >/dev/null ||
    fail "import vimg"
WANT='/data 1000:1000 750
/data/link 0:0 777
/data/seed 1234:2345 640
/data/sub 0:0 755
/data/sub/deep 0:0 644'
META='stat -c "%n %u:%g %a" /data /data/link /data/seed /data/sub /data/sub/deep'
assert_eq "$(dk run --rm vimg sh -c "$META")" "$WANT" "copy-up into the image's anonymous volume"
ID=$(dk create --name cu vimg true) || fail "create cu"
ANON=$(mount_name cu /data)
assert_eq "$(stat -c '%u:%g %a' "$(vol_data "$ANON")")" "1000:1000 750" "the volume root's owner and mode"
assert_eq "$(readlink "$(vol_data "$ANON")/link")" seed "the copied symlink"
dk rm -v cu >/dev/null || fail "rm cu"
assert_eq "$(dk run --rm -v fresh:/data vimg sh -c "$META")" "$WANT" "copy-up into a new named volume"
dk run --rm -v fresh:/data vimg sh -c 'echo changed >/data/seed; rm /data/sub/deep' || fail "change fresh"
assert_eq "$(dk run --rm -v fresh:/data vimg sh -c 'cat /data/seed; ls /data/sub')" changed \
    "a volume with content is not filled again"
assert_eq "$(dk run --rm vimg cat /data/seed)" seed "the image is unchanged"
assert_eq "$(dk run --rm -v nc:/data:nocopy vimg ls -A /data)" "" ":nocopy"
assert_eq "$(dk run --rm --mount type=volume,src=nc2,dst=/data,volume-nocopy vimg ls -A /data)" "" \
    "--mount volume-nocopy"
dk volume rm fresh nc nc2 >/dev/null || fail "rm fresh nc nc2"

# --- bind mounts ---------------------------------------------------------------------------

mkdir -p "$T/host"
echo hello >"$T/host/h"
assert_eq "$(dk run --rm -v "$T/host:/h" busybox sh -c 'cat /h/h; echo fromctr >/h/w')" hello "bind rw"
assert_eq "$(cat "$T/host/w")" fromctr "a write through a bind reaches the host"
expect_fail dk run --rm -v "$T/host:/h:ro" busybox sh -c 'echo x >/h/x'
assert_contains "$ERR" "Read-only file system"
[ ! -e "$T/host/x" ] || fail ":ro bind let a write through"
ID=$(dk create -v "$T/host:/h:ro,Z" busybox true) || fail "create with :ro,Z"
assert_eq "$(dk inspect -f '{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} {{.Propagation}}{{end}}' "$ID")" \
    "bind $T/host /h ro,Z false rprivate" "inspect Mounts of a bind"
dk rm "$ID" >/dev/null
dk run --rm -v "$T/made/deeper:/m" busybox touch /m/f || fail "-v with a missing host directory"
[ -f "$T/made/deeper/f" ] || fail "-v did not make the missing host directory"
expect_fail dk run --rm --mount "type=bind,src=$T/nope,dst=/x" busybox true
assert_contains "$ERR" "invalid mount config for type \"bind\": bind source path does not exist: $T/nope"
[ ! -e "$T/nope" ] || fail "--mount made the missing source"
assert_eq "$(dk run --rm --mount "type=bind,src=$T/host,dst=/h,readonly" busybox sh -c 'cat /h/h; touch /h/y 2>/dev/null || echo refused')" \
    "hello
refused" "--mount type=bind,readonly"
expect_fail dk run --rm -v "$T/host:/h:bogus" busybox true
assert_contains "$ERR" "invalid mode: bogus"
expect_fail dk run --rm -v "$T/host:/h" -v "$T/made:/h" busybox true
assert_contains "$ERR" "Duplicate mount point: /h"
dk run --rm --mount type=volume,src=mv,dst=/m,volume-label=team=x busybox true || fail "--mount volume"
assert_eq "$(dk volume inspect -f '{{.Labels.team}}' mv)" x "--mount volume-label"
dk volume rm mv >/dev/null
assert_contains "$(dk run --rm --mount type=tmpfs,dst=/t,tmpfs-size=1m busybox grep ' /t ' /proc/mounts)" \
    "size=1024k" "--mount type=tmpfs"
assert_contains "$(dk run --rm --tmpfs /t2:size=2m busybox grep ' /t2 ' /proc/mounts)" "noexec" \
    "--tmpfs defaults"
dk volume create -o type=tmpfs -o device=tmpfs -o o=size=3m tv >/dev/null || fail "create tv"
assert_contains "$(dk run --rm -v tv:/tv busybox grep ' /tv ' /proc/mounts)" "tmpfs /tv tmpfs" \
    "a volume with local driver options"
dk volume rm tv >/dev/null

# --- --volumes-from: the data-volume-container pattern, through a chain ----------------------

mkdir -p "$T/share"
dk run --name data -v "$T/share:/test:Z" -v /anon busybox sh -c 'echo hello >/test/h; echo a >/anon/a' ||
    fail "run data"
DATA_ANON=$(mount_name data /anon)
for n in test1 test2; do
    dk run -d --name $n --volumes-from data busybox sleep 300 >/dev/null || fail "run $n"
done
dk run -d --name test3 --volumes-from test2 busybox sleep 300 >/dev/null || fail "run test3"
assert_eq "$(dk exec test3 sh -c 'cat /test/h /anon/a')" "hello
a" "test3 sees data's volumes through test2"
dk exec test3 sh -c 'echo from3 >/anon/b' || fail "write in test3"
assert_eq "$(dk exec test1 cat /anon/b)" from3 "test1 sees what test3 wrote"
assert_eq "$(mount_name test3 /anon)" "$DATA_ANON" "test3 uses data's volume"
expect_fail dk run --rm --volumes-from data:ro busybox touch /anon/c
assert_contains "$ERR" "Read-only file system"
# (Not through the CLI: a 404 from create makes it pull the image.)
OUT=$(ucurl -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"VolumesFrom":["nosuch"]}}' http://x/containers/create)
assert_eq "$OUT" '{"message":"No such container: nosuch"}' "--volumes-from a missing container"
dk rm -v data >/dev/null || fail "rm -v data"
dk volume inspect "$DATA_ANON" >/dev/null || fail "rm -v data removed a volume test1..3 use"
dk rm -fv test1 test2 >/dev/null || fail "rm test1 test2"
assert_eq "$(dk exec test3 cat /anon/a)" a "test3 still has the volume"
dk rm -fv test3 >/dev/null || fail "rm test3"
[ -z "$(dk volume ls -q)" ] || fail "volumes left after the chain: $(dk volume ls -q)"
assert_eq "$(cat "$T/share/h")" hello "the bind's host data stays"

# --- restarts: volumes and what uses them survive --------------------------------------------

dk run --rm -v persist:/p busybox sh -c 'echo durable >/p/f' || fail "write persist"
U=$(dk create --name holder -v persist:/p busybox true) || fail "create holder"
stop_berthd
start_berthd
assert_eq "$(dk run --rm -v persist:/p busybox cat /p/f)" durable "data after a restart"
expect_fail dk volume rm persist
assert_contains "$ERR" "volume is in use - [$U]"
kill_berthd
start_berthd
assert_eq "$(dk run --rm -v persist:/p busybox cat /p/f)" durable "data after SIGKILL"
dk rm holder >/dev/null
dk volume rm persist >/dev/null || fail "rm persist"

# --- SIGKILL in the middle of volume create, volume rm and container removal -------------------

# fill VOLUME N: N files in the volume, written on the host.
fill() {
    local d i
    d=$(vol_data "$1")
    for i in $(seq "$2"); do echo "$i" >"$d/f$i"; done
}

dk volume create stays >/dev/null
fill stays 50
kill_at volume-create-staged dk volume create halfmade
check_volumes
assert_eq "$(dk volume ls -q | tr '\n' ' ')" "stays " "a create killed before its rename is gone"
dk volume create halfmade >/dev/null || fail "create halfmade after the kill"
assert_eq "$(ls "$(vol_data stays)" | wc -l)" 50 "the other volume's data"
dk volume rm halfmade stays >/dev/null

for point in volume-remove-trashed volume-remove-partial; do
    dk volume create doomed >/dev/null
    fill doomed 50
    kill_at $point dk volume rm doomed
    check_volumes
    [ -z "$(dk volume ls -q -f name=doomed)" ] || fail "a volume whose rm was killed at $point is listed"
done

dk volume create named >/dev/null
ID=$(dk create -v /anon -v named:/n busybox true) || fail "create for the removal kill"
ANON=$(mount_name "$ID" /anon)
fill "$ANON" 50
fill named 50
kill_at container-remove-unlinked dk rm -v "$ID"
check_volumes
[ -z "$(dk ps -aq --no-trunc | grep "$ID" || true)" ] || fail "a container whose removal was killed is listed"
[ ! -e "$T/data/containers/$ID" ] || fail "the half-removed container's directory is left"
# The killed removal never reached the volumes: both are whole (the anonymous one dangling).
assert_eq "$(ls "$(vol_data "$ANON")" | wc -l) $(ls "$(vol_data named)" | wc -l)" "50 50" \
    "the volumes of a container whose removal was killed"
dk volume rm "$ANON" named >/dev/null || fail "rm the volumes left by the killed removal"

# Kills at points the code does not mark: the removal of a container with a large anonymous
# volume, killed as soon as each step shows on disk (or when the removal is over, if it was
# quicker than the look). Whatever the timing, the list stays consistent and a listed volume
# is never partly deleted.
trash_seen() { ls -A "$VOLS" | grep -c '^\.trash-' >/dev/null; }
record_gone() { [ ! -e "$T/data/containers/$1/config.v2.json" ]; }
started() { true; }
for step in started record_gone trash_seen; do
    ID=$(dk create -v /big busybox true) || fail "create for step $step"
    ANON=$(mount_name "$ID" /big)
    (cd "$(vol_data "$ANON")" && seq 20000 | xargs touch)
    (dk rm -v "$ID" >/dev/null 2>&1) &
    RM=$!
    spin "$RM" $step "$ID"
    kill_berthd
    wait "$RM" 2>/dev/null || true
    start_berthd
    check_volumes
    if dk volume inspect "$ANON" >/dev/null 2>&1; then
        assert_eq "$(ls "$(vol_data "$ANON")" | wc -l)" 20000 "a volume still listed after a kill at $step"
    fi
    dk rm -v "$ID" >/dev/null 2>&1 || true
    dk volume prune -f >/dev/null
    check_volumes
done
[ -z "$(dk volume ls -q)" ] || fail "volumes left: $(dk volume ls -q)"

finish
echo "PASS: berthd volumes"
