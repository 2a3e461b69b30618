#!/usr/bin/env bash
# Builds the local driver's machine image OUT (a gzipped tar of a root file system):
# Debian's static busybox with its applets, dropbear as the SSH server (with OpenSSH's
# sftp-server for SFTP and its scp for the legacy protocol), nft(8) (berthd-static's packet
# filtering: it cannot link libnftables, see docs/dependencies.md), the shared libraries those
# need (found with ldd), and the files under drivers/local/rootfs (busybox init, rcS/rcK,
# passwd/group/shadow for root). See drivers/local/README.md for why dropbear.
set -euo pipefail
out=${1:?usage: mkimage.sh OUT.tar.gz}
here=$(cd "$(dirname "$0")" && pwd)

busybox=/bin/busybox
dynamic=(/usr/sbin/dropbear /usr/bin/dropbearkey /usr/lib/openssh/sftp-server /usr/bin/scp
    /usr/sbin/nft)
missing=()
for f in "$busybox" "${dynamic[@]}"; do
    [ -x "$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "mkimage: missing ${missing[*]}: install busybox-static dropbear-bin" \
        "openssh-sftp-server openssh-client nftables (as root: tests/deps.sh local)" >&2
    exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
    echo "mkimage: $busybox is dynamically linked: install busybox-static instead of busybox" >&2
    exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/berth-mkimage.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib,usr/local/bin,usr/local/sbin,etc/init.d} \
    "$root"/{etc/dropbear,proc,sys,dev,run,tmp,var/lib,var/log,mnt,home,root/.ssh}
ln -s ../run "$root/var/run"
ln -s /proc/self/mounts "$root/etc/mtab"

install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

install -m 0755 /usr/sbin/dropbear "$root/usr/sbin/dropbear"
install -m 0755 /usr/bin/dropbearkey "$root/usr/bin/dropbearkey"
install -m 0755 /usr/lib/openssh/sftp-server "$root/usr/lib/sftp-server"
install -m 0755 /usr/bin/scp "$root/usr/bin/scp"
install -m 0755 /usr/sbin/nft "$root/usr/sbin/nft"

# Each library at the path ldd resolved it to (the loader's own path included), so the
# default search path finds it without an ld.so.cache.
for bin in "${dynamic[@]}"; do
    ldd "$bin" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) .*/\1/p'
done | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    [ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
done

cp -R "$here/rootfs/." "$root/"
chmod 0700 "$root/root" "$root/root/.ssh"
chmod 0600 "$root/etc/shadow"
chmod 1777 "$root/tmp"
chmod 0755 "$root/etc/init.d/rcS" "$root/etc/init.d/rcK"

mkdir -p "$(dirname "$out")"
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$root" -cf - . |
    gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
