#!/usr/bin/env bash
# berthd's image endpoints end to end with the docker CLI, docker-py and curl: import (with
# --change), images and its filters, inspect, history, tag, save, rmi, load, prune, and the
# answers for what is missing or not supported (pull).
OWN_NETNS=1 # berthd makes its bridge and rules: not on the host
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/berthd_env.sh"
export DOCKER_HOST=unix://$SOCK

busybox_tar "$T/rootfs.tar"
start_berthd

# --- import ---
assert_eq "$(ucurl http://x/images/json)" "[]" "empty image list"
ID0=$(dk import "$T/rootfs.tar" busybox:latest) || fail "docker import: $ID0"
[[ "$ID0" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "docker import printed [$ID0]"
assert_contains "$(dk images --format '{{.Repository}} {{.Tag}} {{.ID}}')" \
    "busybox latest ${ID0:7:12}" "docker images"
assert_eq "$(dk image inspect busybox --format '{{.Os}} {{json .Config.Cmd}} {{.Comment}}')" \
    "linux null Imported from -" "inspect of a plain import"

# The same rootfs with changes, read from stdin: busybox:latest moves to the new image.
ID=$(dk import --change 'CMD ["sh"]' --change 'ENV A=b C="d e"' --change 'WORKDIR /srv' \
    --change 'EXPOSE 80 53/udp' --change 'LABEL team=web' --change 'VOLUME /data' \
    -m "busybox from Debian" - busybox:latest <"$T/rootfs.tar") || fail "docker import -: $ID"
[ "$ID" != "$ID0" ] || fail "changes gave the same image ID"
assert_eq "$(dk image inspect busybox --format '{{.Os}} {{json .Config.Cmd}}')" 'linux ["sh"]' \
    "inspect after import --change"
assert_eq "$(dk image inspect busybox --format \
    '{{json .Config.Env}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}}')" \
    '["A=b","C=d e"] /srv {"53/udp":{},"80/tcp":{}}' "config from --change"
assert_eq "$(dk image inspect busybox --format '{{json .Config.Labels}} {{json .Config.Volumes}}')" \
    '{"team":"web"} {"/data":{}}' "labels and volumes from --change"
assert_eq "$(dk image inspect busybox --format '{{.Id}} {{.Comment}}')" "$ID busybox from Debian"
assert_eq "$(dk image inspect --format '{{.Id}}' "${ID:7:12}")" "$ID" "inspect by short ID"
# Shell form runs through /bin/sh -c, and a bad instruction is refused.
ID_EP=$(dk import --change 'ENTRYPOINT echo hi' "$T/rootfs.tar" ep:1) || fail "import: $ID_EP"
assert_eq "$(dk image inspect ep:1 --format '{{json .Config.Entrypoint}}')" \
    '["/bin/sh","-c","echo hi"]' "shell-form entrypoint"
expect_fail dk import --change 'RUN echo no' "$T/rootfs.tar" bad:1
assert_contains "$ERR" "RUN is not a valid change command"
expect_fail dk import --change 'EXPOSE 99999' "$T/rootfs.tar" bad:1
assert_contains "$ERR" "Invalid containerPort"
echo "not a tar archive" >"$T/garbage"
expect_fail dk import "$T/garbage" bad:1
assert_contains "$ERR" "import"
[ -z "$(dk images -q bad)" ] || fail "a failed import left an image"

# --- images and its filters ---
assert_eq "$(dk images --filter dangling=true -q --no-trunc)" "$ID0" "dangling image"
assert_eq "$(dk images --filter dangling=false --format '{{.Repository}}:{{.Tag}}' | sort |
    tr '\n' ' ')" "busybox:latest ep:1 " "tagged images"
assert_eq "$(dk images --filter label=team=web --format '{{.Repository}}')" busybox "label=k=v"
assert_eq "$(dk images --filter label=team --format '{{.Repository}}')" busybox "label=k"
assert_eq "$(dk images --filter label=team=db -q)" "" "label with another value"
assert_eq "$(dk images --filter since="$ID0" --format '{{.Repository}}' | sort | tr '\n' ' ')" \
    "busybox ep " "since"
assert_eq "$(dk images --filter before=busybox -q --no-trunc)" "$ID0" "before"
dk tag busybox mybox:1 || fail "docker tag"
assert_eq "$(dk images --filter reference='my*' --format '{{.Repository}}:{{.Tag}}')" "mybox:1" \
    "reference glob shows only the matching tag"
assert_eq "$(dk images busybox --format '{{.Repository}}:{{.Tag}} {{.ID}}')" \
    "busybox:latest ${ID:7:12}" "docker images NAME"
assert_eq "$(dk images --filter reference='busybox:lat*' -q | sort -u)" "${ID:7:12}" \
    "reference with a tag pattern"
expect_fail dk images --filter bogus=1
assert_contains "$ERR" "invalid filter 'bogus'"
assert_eq "$(ucurl -o /dev/null -w '%{http_code}' 'http://x/images/json?filters=%7Bnot')" 400 \
    "malformed filters"
# docker-py sends {"key": ["value"]} where the CLI sends {"key": {"value": true}}.
assert_eq "$(py 'print([t for i in c.api.images(filters={"reference": "my*"}) for t in i["RepoTags"]])')" \
    "['mybox:1']" "docker-py reference filter"
assert_eq "$(py 'print(sorted(t for i in c.images.list() for t in i.tags))')" \
    "['busybox:latest', 'ep:1', 'mybox:1']" "docker-py images.list"
assert_eq "$(py 'print(c.images.get("busybox").attrs["Config"]["Cmd"])')" "['sh']" \
    "docker-py images.get"
assert_eq "$(dk info --format '{{.Images}}')" 3 "docker info image count"

# --- names with slashes, tag and history ---
assert_eq "$(ucurl http://x/v1.43/images/docker.io/library/busybox/json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')" "$ID" "normalized name"
dk tag busybox localhost:5000/team/box:2 || fail "tag with a registry"
assert_eq "$(dk image inspect localhost:5000/team/box:2 --format '{{.Id}}')" "$ID" \
    "inspect a name with slashes"
assert_eq "$(ucurl -X POST -o /dev/null -w '%{http_code}' \
    'http://x/images/busybox/tag?repo=other&tag=3')" 201 "tag status"
assert_eq "$(dk history busybox --format '{{.ID}} {{.Comment}}' | head -n 1)" \
    "${ID:7:12} busybox from Debian" "docker history"
expect_fail dk history nosuch
assert_contains "$ERR" "No such image: nosuch"
expect_fail dk tag nosuch x:1
assert_contains "$ERR" "No such image: nosuch"

# --- prune: only the dangling image goes ---
OUT=$(dk image prune -f) || fail "docker image prune: $OUT"
assert_contains "$OUT" "deleted: $ID0"
[ -z "$(dk images -a -q --no-trunc | grep -x "$ID0")" ] || fail "pruned image still listed"
assert_eq "$(dk image inspect busybox --format '{{.Id}}')" "$ID" "prune kept tagged images"

# --- save, rmi, load ---
dk save busybox mybox:1 -o "$T/s.tar" || fail "docker save"
assert_contains "$(tar -tf "$T/s.tar")" "manifest.json"
dk image save ep:1 >"$T/ep.tar" || fail "docker save to stdout"
assert_contains "$(tar -tf "$T/ep.tar")" "repositories"
expect_fail dk save nosuch -o "$T/none.tar"
assert_contains "$ERR" "No such image: nosuch"

# Deleting by ID an image with several tags needs force (409).
assert_eq "$(ucurl -X DELETE -o "$T/out" -w '%{http_code}' "http://x/images/$ID")" 409 "rmi by ID"
assert_contains "$(cat "$T/out")" "must be forced"
expect_fail dk rmi "${ID:7:12}"
assert_contains "$ERR" "conflict"
OUT=$(dk rmi busybox mybox:1) || fail "docker rmi: $OUT"
assert_contains "$OUT" "Untagged: busybox:latest"
assert_contains "$OUT" "Untagged: mybox:1"
OUT=$(dk rmi -f "$ID") || fail "docker rmi -f: $OUT"
assert_contains "$OUT" "Untagged: localhost:5000/team/box:2"
assert_contains "$OUT" "Deleted: $ID"
expect_fail dk image inspect busybox
assert_contains "$ERR" "No such image: busybox"
expect_fail dk rmi busybox
assert_contains "$ERR" "No such image: busybox"

OUT=$(dk load -i "$T/s.tar") || fail "docker load: $OUT"
assert_contains "$OUT" "Loaded image: busybox:latest"
assert_contains "$OUT" "Loaded image: mybox:1"
assert_eq "$(dk image inspect busybox --format '{{.Id}} {{json .Config.Cmd}}')" "$ID [\"sh\"]" \
    "the loaded image has the saved ID"
dk rmi ep:1 >/dev/null || fail "rmi ep:1"
OUT=$(dk load -q <"$T/ep.tar") || fail "docker load -q: $OUT"
assert_contains "$OUT" "Loaded image: ep:1"
assert_eq "$(py 'print([i.tags for i in c.images.load(open(sys.argv[1], "rb").read())])' \
    "$T/ep.tar")" "[['ep:1']]" "docker-py images.load"
expect_fail dk load -i "$T/garbage"
assert_eq "$(dk images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" \
    "busybox:latest ep:1 mybox:1 " "images after load"

# --- not supported yet: a clear answer ---
expect_fail dk pull alpine
assert_contains "$ERR" "pulling images from registries is not implemented yet"
assert_eq "$(ucurl -X POST -o "$T/out" -w '%{http_code}' \
    'http://x/images/create?fromImage=alpine&tag=latest')" 501 "pull status"
assert_contains "$(cat "$T/out")" '"message":"berthd: pulling images'

finish
echo "test_berthd_images: all checks passed"
