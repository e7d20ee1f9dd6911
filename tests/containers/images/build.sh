#!/usr/bin/env bash
# Build the local stand-ins for the official images the project's Dockerfile and
# docker-compose.prod.yml use, then print the environment that selects them.
#
#   eval "$(bash tests/containers/images/build.sh)"     # from CI (.ci/run) or a shell
#
# No container registry is reachable in CI, so python:3.11.13-slim-bookworm,
# nginx:1.28.0-bookworm, redis:7.4.5-bookworm and postgres:15.14-bookworm cannot be pulled. These
# images reproduce the part of each official image's interface the project uses, made from
# Debian bookworm's packages on top of the molecule base image (README.md next to this file says
# what each one reproduces). With registry access none of this is needed.
#
# The only thing printed on standard output is `export KEY=VALUE` lines (progress goes to
# standard error), like ansible/molecule/prepare-host.sh:
#   PYTHON_IMAGE, NGINX_IMAGE, REDIS_IMAGE, POSTGRES_IMAGE   the four stand-ins
#   CONTAINERS_CONF                                          podman's settings for this host
#
# What it does:
#   1. ansible/molecule/prepare-host.sh: podman ready, CONTAINERS_CONF, the base image
#      localhost/channels-stack-debian-systemd:bookworm (built once per machine).
#   2. Each stand-in, in the order python, nginx, redis, postgres: `podman build` from
#      <name>/Containerfile, skipped when the image exists (`podman image exists`). The builds
#      fetch Debian packages from deb.debian.org (a minute or two each the first time).
#
# Environment (all optional):
#   FORCE_REBUILD=1   build the four stand-ins again even if they exist; or a list of names
#                     (FORCE_REBUILD="postgres nginx"): those only. Needed after a Containerfile
#                     changes. The new images take the names; an old one is removed unless a
#                     container still uses it. The base image is not rebuilt: that is
#                     ansible/molecule/image/build.sh's own FORCE_REBUILD.
#   CONTAINERS_CONF, MOLECULE_IMAGE   passed on to prepare-host.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

say() { printf 'images/build.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# --- 1. podman and the base image --------------------------------------------------------
# FORCE_REBUILD here means the stand-ins only: prepare-host.sh would pass it on to the base image.
host_env="$(FORCE_REBUILD=0 bash "$repo/ansible/molecule/prepare-host.sh")" \
    || die "ansible/molecule/prepare-host.sh failed"
eval "$host_env"
: "${CONTAINERS_CONF:?prepare-host.sh printed no CONTAINERS_CONF}"
: "${MOLECULE_IMAGE:?prepare-host.sh printed no MOLECULE_IMAGE}"
export CONTAINERS_CONF

# --- 2. the stand-ins --------------------------------------------------------------------
build() {
    local name="$1" image="$2" old="" log started
    if podman image exists "$image"; then
        if [[ "${FORCE_REBUILD:-0}" != 1 && " ${FORCE_REBUILD:-} " != *" $name "* ]]; then
            say "$image exists: nothing to do"
            return 0
        fi
        say "FORCE_REBUILD=${FORCE_REBUILD}: building $image again"
        old="$(podman image inspect --format '{{.Id}}' "$image")"
    fi
    say "building $image from $name/Containerfile"
    log="$(mktemp "${TMPDIR:-/tmp}/channels-stack-image-$name.XXXXXX")"
    started=$SECONDS
    # --layers=false: one new layer per image and no intermediate images left in the store.
    if ! podman build --pull=never --layers=false --build-arg "BASE_IMAGE=$MOLECULE_IMAGE" \
            --tag "$image" --file "$here/$name/Containerfile" "$here/$name" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        die "podman build of $image failed"
    fi
    rm -f "$log"
    podman image exists "$image" || die "$image missing after the build"
    if [[ -n "$old" && "$old" != "$(podman image inspect --format '{{.Id}}' "$image")" ]]; then
        podman image rm "$old" >/dev/null 2>&1 \
            || say "the previous $image ($old) is still used by a container: kept"
    fi
    say "built $image in $((SECONDS - started)) s: $(podman image ls --format '{{.Size}}' "$image")"
}

PYTHON_IMAGE=localhost/channels-stack-standin-python:3.11-bookworm
NGINX_IMAGE=localhost/channels-stack-standin-nginx:bookworm
REDIS_IMAGE=localhost/channels-stack-standin-redis:bookworm
POSTGRES_IMAGE=localhost/channels-stack-standin-postgres:15-bookworm

build python "$PYTHON_IMAGE"
build nginx "$NGINX_IMAGE"
build redis "$REDIS_IMAGE"
build postgres "$POSTGRES_IMAGE"
say "ready: $PYTHON_IMAGE $NGINX_IMAGE $REDIS_IMAGE $POSTGRES_IMAGE"

printf 'export PYTHON_IMAGE=%q\n' "$PYTHON_IMAGE"
printf 'export NGINX_IMAGE=%q\n' "$NGINX_IMAGE"
printf 'export REDIS_IMAGE=%q\n' "$REDIS_IMAGE"
printf 'export POSTGRES_IMAGE=%q\n' "$POSTGRES_IMAGE"
printf 'export CONTAINERS_CONF=%q\n' "$CONTAINERS_CONF"
