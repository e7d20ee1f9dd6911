#!/usr/bin/env bash
# Build the base image of the molecule scenarios: Debian bookworm with systemd as PID 1.
#
# No container registry is reachable on the project's machines, so the image is made from
# Debian's packages: debootstrap into a scratch directory, then `podman import`. Nothing
# happens when the image already exists (`podman image exists`), so calling this before every
# molecule run costs nothing. Needs root (debootstrap), podman and debootstrap.
#
#   MOLECULE_IMAGE     image name (default localhost/channels-stack-debian-systemd:bookworm).
#                      With registry access, set it to a public systemd image and skip this.
#   DEBIAN_MIRROR      mirror debootstrap and the image's apt use (default http://deb.debian.org/debian)
#   DEBIAN_SUITE       default bookworm
#   FORCE_REBUILD=1    build it again even if it exists (the new image takes the name)
set -euo pipefail

MOLECULE_IMAGE="${MOLECULE_IMAGE:-localhost/channels-stack-debian-systemd:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
PACKAGES=systemd,systemd-sysv,python3,dbus,sudo,python3-apt,ca-certificates,iproute2

say() { printf 'image/build.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v podman >/dev/null || die "podman is not installed (apt-get install podman runc)"

if [[ "${FORCE_REBUILD:-0}" == 1 ]] && podman image exists "$MOLECULE_IMAGE"; then
    # The new image takes the name; containers still running the old one keep it (untagged).
    say "FORCE_REBUILD=1: building $MOLECULE_IMAGE again"
elif podman image exists "$MOLECULE_IMAGE"; then
    say "$MOLECULE_IMAGE exists: nothing to do"
    exit 0
fi
case "$MOLECULE_IMAGE" in
    localhost/*) ;;
    *) die "$MOLECULE_IMAGE is not present and is not a localhost/ image: pull it yourself (podman pull $MOLECULE_IMAGE)" ;;
esac

[[ $EUID -eq 0 ]] || die "building $MOLECULE_IMAGE needs root (debootstrap)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

workdir="$(mktemp -d "${TMPDIR:-/var/tmp}/molecule-image.XXXXXX")"
cleanup() { rm -rf --one-file-system "$workdir"; }
trap cleanup EXIT
rootfs="$workdir/rootfs"

say "building $MOLECULE_IMAGE: debootstrap $DEBIAN_SUITE from $DEBIAN_MIRROR into $rootfs (about a minute)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" \
        >"$workdir/debootstrap.log" 2>&1; then
    tail -n 40 "$workdir/debootstrap.log" >&2
    [[ -f "$rootfs/debootstrap/debootstrap.log" ]] && tail -n 40 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi

say "configuring the root file system"
# The updates and security suites as well, like a real host (unattended-upgrades uses them).
security_mirror="${DEBIAN_SECURITY_MIRROR:-${DEBIAN_MIRROR%/debian}/debian-security}"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb $security_mirror $DEBIAN_SUITE-security main
SOURCES
# Units that make no sense in a container (no getty on a console, no udev devices).
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# Keep the image small: no package lists, no apt cache, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/debootstrap
# Dated 1970, so the empty lists count as stale: Ansible's apt cache_valid_time goes by this
# directory's mtime, and would otherwise skip the first `apt-get update` of a new container.
touch -d @0 "$rootfs/var/lib/apt/lists"
: >"$rootfs/etc/machine-id"
echo "molecule" >"$rootfs/etc/hostname"

say "importing into podman as $MOLECULE_IMAGE"
tar -C "$rootfs" --numeric-owner -c . \
    | podman import --quiet --change 'CMD ["/sbin/init"]' --change 'ENV container=podman' \
        --change 'STOPSIGNAL SIGRTMIN+3' - "$MOLECULE_IMAGE" >/dev/null \
    || die "podman import failed"
podman image exists "$MOLECULE_IMAGE" || die "$MOLECULE_IMAGE missing after import"
say "done: $(podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$MOLECULE_IMAGE")"
