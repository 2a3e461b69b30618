#!/usr/bin/env bash
# make demo: the machine "default" (a local machine: a system container on this host, reached
# over SSH and mutual TLS on 127.0.0.1), provisioned with berthd, and a container run on it
# with the docker CLI. Safe to run again: it reuses (or starts) the machine and the image.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
BERTH=$TOP/build/bin/berth
export BERTH_DRIVER_PATH=$TOP/build/lib/berth/drivers

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if ! "$BERTH" status default >/dev/null 2>&1; then
    say "berth create -d local default"
    "$BERTH" create -d local default
elif [ "$("$BERTH" status default)" != Running ]; then
    say "berth start default"
    "$BERTH" start default
fi

say 'eval "$(berth env default)"'
eval "$("$BERTH" env --shell bash default)"
export DOCKER_CONFIG=$TOP/build/demo/docker-config
mkdir -p "$DOCKER_CONFIG"

# The machine has no route to a registry: its first image comes from Debian's busybox-static.
if ! docker image inspect busybox >/dev/null 2>&1; then
    say "docker import (a busybox rootfs from Debian's busybox-static) busybox:latest"
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$rootfs/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
    tar -C "$rootfs" -c . | docker import --change 'CMD ["sh"]' - busybox:latest
fi

say 'docker run --rm busybox echo "Hello from a berth machine!"'
docker run --rm busybox echo "Hello from a berth machine!"

say "berth ls"
"$BERTH" ls
cat <<EOT

Point your shell at the machine with:
    eval \$($BERTH env default)
Then: docker run -d -p 8080:80 busybox httpd -f -p 80 -h /bin; curl 127.0.0.1:8080/
Log in with '$BERTH ssh default'; stop it with '$BERTH stop default'.
EOT
