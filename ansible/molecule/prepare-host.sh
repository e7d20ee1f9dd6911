#!/usr/bin/env bash
# Get this host ready for the molecule scenarios, then print the environment they need.
#
#   eval "$(ansible/molecule/prepare-host.sh)"     # from a script (.ci/run) or a shell
#   . ansible/molecule/prepare-host.sh             # the same, sourced
#
# A pytest fixture runs it with subprocess and reads the KEY=VALUE of the `export` lines it
# prints on standard output (the only thing printed there; progress goes to standard error).
#
# What it does, each step skipped when already done:
#   1. podman, runc, debootstrap and iptables present (netavark, podman 4.3's network backend,
#      runs iptables to give the containers a network). As root with apt-get they are installed
#      (PREPARE_HOST_INSTALL=0: fail instead).
#   2. CONTAINERS_CONF: ansible/molecule/containers.conf (runc, cgroupfs, ulimits). When this
#      host's hard nofile limit is below the file's 65536 and cannot be raised (no
#      CAP_SYS_RESOURCE, as in the project's sandboxes), runc could not start any container with
#      it: a copy with nofile lowered to the host's hard limit is written to
#      $MOLECULE_HOST_DIR/containers.conf instead, and a warning says so.
#   3. The base image $MOLECULE_IMAGE (image/build.sh: debootstrap + podman import, once).
#   4. A smoke test: one container of that image runs `true` on podman's default network.
#
# Environment (all optional):
#   MOLECULE_IMAGE          default localhost/channels-stack-debian-systemd:bookworm
#   MOLECULE_HOST_DIR       where a generated containers.conf goes
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/channels-stack-molecule)
#   PREPARE_HOST_INSTALL    1 (default): apt-get install missing tools when root; 0: fail
#   CONTAINERS_CONF         if already set and not the project's file, it is left alone
set -euo pipefail

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    # Sourced: run as a child (its `set -e` and traps stay out of the caller) and export.
    __prepare_host_env="$(bash "${BASH_SOURCE[0]}")" || return 1
    eval "$__prepare_host_env"
    unset __prepare_host_env
    return 0
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project_conf="$here/containers.conf"
MOLECULE_IMAGE="${MOLECULE_IMAGE:-localhost/channels-stack-debian-systemd:bookworm}"
MOLECULE_HOST_DIR="${MOLECULE_HOST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/channels-stack-molecule}"
wanted_nofile=65536

say() { printf 'prepare-host.sh: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# --- 1. tools ---------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
# debootstrap only builds the local image.
if [[ "$MOLECULE_IMAGE" == localhost/* ]] && ! command -v debootstrap >/dev/null; then
    missing+=(debootstrap)
fi
command -v iptables >/dev/null || [[ -x /usr/sbin/iptables ]] || missing+=(iptables)
if ((${#missing[@]})); then
    if [[ $EUID -eq 0 && "${PREPARE_HOST_INSTALL:-1}" == 1 ]] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
            || die "apt-get install ${missing[*]} failed"
    else
        die "missing: ${missing[*]} (apt-get install ${missing[*]})"
    fi
fi

# --- 2. containers.conf -----------------------------------------------------------------
if [[ -n "${CONTAINERS_CONF:-}" && "$CONTAINERS_CONF" != "$project_conf" \
      && "$CONTAINERS_CONF" != "$MOLECULE_HOST_DIR/containers.conf" ]]; then
    say "CONTAINERS_CONF=$CONTAINERS_CONF set by the caller: using it as it is"
    conf="$CONTAINERS_CONF"
elif (ulimit -Hn "$wanted_nofile") 2>/dev/null; then
    conf="$project_conf"
else
    host_nofile="$(ulimit -Hn)"
    mkdir -p "$MOLECULE_HOST_DIR"
    conf="$MOLECULE_HOST_DIR/containers.conf"
    sed "s/nofile=$wanted_nofile:$wanted_nofile/nofile=$host_nofile:$host_nofile/" "$project_conf" >"$conf.tmp"
    grep -q "nofile=$host_nofile:$host_nofile" "$conf.tmp" || die "could not rewrite the nofile limit of $project_conf"
    mv "$conf.tmp" "$conf"
    say "WARNING: this host's hard nofile limit is $host_nofile and cannot be raised to $wanted_nofile:" \
        "containers get $host_nofile ($conf); systemd inside clamps LimitNOFILE=$wanted_nofile to it"
fi
export CONTAINERS_CONF="$conf"

# --- 3. the base image ------------------------------------------------------------------
MOLECULE_IMAGE="$MOLECULE_IMAGE" bash "$here/image/build.sh"

# --- 4. smoke test ----------------------------------------------------------------------
# On podman's default network: a missing iptables (netavark) shows here, not in molecule.
if ! out="$(podman run --rm "$MOLECULE_IMAGE" true 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "podman cannot run $MOLECULE_IMAGE with CONTAINERS_CONF=$CONTAINERS_CONF"
fi
say "ready: CONTAINERS_CONF=$CONTAINERS_CONF MOLECULE_IMAGE=$MOLECULE_IMAGE"

printf 'export CONTAINERS_CONF=%q\n' "$CONTAINERS_CONF"
printf 'export MOLECULE_IMAGE=%q\n' "$MOLECULE_IMAGE"
