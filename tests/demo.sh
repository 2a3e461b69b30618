#!/usr/bin/env bash
# make demo: a machine named "default" whose engine is a berthd running on this host,
# reached over mutual TLS on 127.0.0.1, and a container run on it with the docker CLI.
# Safe to run again: it reuses the machine, the engine and the image.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
BERTH=$TOP/build/bin/berth
BERTHD=$TOP/build/bin/berthd
DEMO=$TOP/build/demo
PORT=${BERTH_DEMO_PORT:-23760}
export BERTH_DRIVER_PATH=$TOP/build/lib/berth/drivers
mkdir -p "$DEMO"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# 1. The machine: its TLS identity is what berthd will serve.
if ! "$BERTH" status default >/dev/null 2>&1; then
    say "berth create -d none --url tcp://127.0.0.1:$PORT default"
    "$BERTH" create -d none --url "tcp://127.0.0.1:$PORT" default
fi
M=$("$BERTH" inspect -f '{{.HostOptions.AuthOptions.StorePath}}' default)
CA=$("$BERTH" inspect -f '{{.HostOptions.AuthOptions.CaCertPath}}' default)

# 2. The engine, unless it already answers.
if ! "$BERTH" version default >/dev/null 2>&1; then
    say "starting berthd on 127.0.0.1:$PORT (mutual TLS) with data in $DEMO"
    [ -f "$DEMO/berthd.pid" ] && kill "$(cat "$DEMO/berthd.pid")" 2>/dev/null || true
    setsid "$BERTHD" daemon -H "tcp://127.0.0.1:$PORT" -H "unix://$DEMO/berthd.sock" \
        --tlsverify --tlscacert "$CA" --tlscert "$M/server.pem" --tlskey "$M/server-key.pem" \
        --data-root "$DEMO/data" --exec-root "$DEMO/run" --pidfile "$DEMO/berthd.pid" \
        </dev/null >"$DEMO/berthd.log" 2>&1 &
    for _ in $(seq 100); do
        "$BERTH" version default >/dev/null 2>&1 && break
        sleep 0.1
    done
    "$BERTH" version default >/dev/null || { tail "$DEMO/berthd.log"; exit 1; }
fi

# 3. Point the docker CLI at the machine, exactly as a user would.
say 'eval "$(berth env default)"'
eval "$("$BERTH" env --shell bash default)"
export DOCKER_CONFIG=$DEMO/docker-config

# 4. An image from Debian's busybox-static, then a container.
if ! docker image inspect busybox >/dev/null 2>&1; then
    say "docker import (busybox rootfs from Debian's busybox-static) busybox:latest"
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

The engine keeps running. Point your shell at it with:
    eval \$($BERTH env default)
Stop it with: kill \$(cat $DEMO/berthd.pid)
EOT
