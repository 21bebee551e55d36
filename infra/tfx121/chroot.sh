#!/usr/bin/env bash
# The second stack (issue 14): TFX 1.21 / Python 3.13 / TF 2.21, in a Debian 13 (trixie)
# root file system built once with debootstrap and entered with chroot (needs root).
#
#   infra/tfx121/chroot.sh root          build the root and its venv (cached; a no-op then)
#   infra/tfx121/chroot.sh lock          re-resolve requirements/lock-tfx121.txt inside it
#   infra/tfx121/chroot.sh run CMD...    run CMD inside, in the repository, venv on PATH
#   infra/tfx121/chroot.sh shell         an interactive shell inside
#
# TFX121_DIR (default REPO/.tfx121, ignored by git) holds the root (TFX121_DIR/root). The
# venv is /opt/venv inside it. /proc, /dev, /sys and the repository (at its own path, so
# an editable install and absolute paths mean the same inside and out) are bind-mounted
# only while a command runs, in a mount namespace of its own, and unmounted by a trap.
# Edit this file by replacing it (sed -i, an editor's save), not in place: a running
# command reads it as it goes.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd -P)
DIR=${TFX121_DIR:-$REPO/.tfx121}
ROOT=$DIR/root
SUITE=${TFX121_SUITE:-trixie}
MIRROR=${TFX121_MIRROR:-http://deb.debian.org/debian}
VENV=/opt/venv
UV_VERSION=${UV_VERSION:-0.13.9}
LOCK=requirements/lock-tfx121.txt
IN=requirements/tfx121.in
NICE=(nice -n 19 ionice -c3)
# g++: some dependencies build from source on Python 3.13 (pyfarmhash, via apache-beam);
# redis-server and mariadb-client: the fault tests start their own Redis and drop their
# MLMD databases with the mariadb client (the servers themselves are the host's).
# chromium, chromium-driver: the run-report e2e tests render pages headless.
# debootstrap installs BASE; apt the rest, after a policy-rc.d that starts no service.
BASE=python3,python3-venv,python3-dev,gcc,g++,git,make,ca-certificates
PKGS=$BASE,redis-server,mariadb-client,chromium,chromium-driver

log() { echo "tfx121: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root (debootstrap, mount, chroot)"; exit 1; }

# In a mount namespace of its own: the binds are seen by this command only (two commands
# can run at once) and vanish with it even if it is killed with -9; the trap below still
# unmounts them on every ordinary end.
if [ -z "${TFX121_NS:-}" ] && command -v unshare >/dev/null; then
    TFX121_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

# --- mounts -------------------------------------------------------------------------
MOUNTED=()
unmount_all() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount -R "${MOUNTED[$i]}" 2>/dev/null || umount -R -l "${MOUNTED[$i]}" 2>/dev/null || \
            log "could not unmount ${MOUNTED[$i]}"
    done
    MOUNTED=()
}
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bind() {  # bind SRC DEST_INSIDE_ROOT [r]: r = recursive (submounts too, e.g. /dev/shm)
    local src=$1 dest=$ROOT$2
    mkdir -p "$dest"
    if mountpoint -q "$dest"; then log "$dest already mounted"; exit 1; fi
    if [ "${3:-}" = r ]; then
        mount --rbind "$src" "$dest"
        mount --make-rslave "$dest"
    else
        mount --bind "$src" "$dest"
    fi
    MOUNTED+=("$dest")
}

mount_all() {
    bind /proc /proc
    bind /dev /dev r
    bind /sys /sys r
    bind "$REPO" "$REPO"
    # The Airflow environment (.venv-airflow: Python 3.11, never TFX) stays the host's; its
    # interpreter's prefix (pyenv's, say) is bound read-only at its own path so that the
    # Airflow tests run inside too. Never over anything the root has (/usr, ...).
    local home prefix
    home=$(sed -n 's/^home = //p' "$REPO/.venv-airflow/pyvenv.cfg" 2>/dev/null || true)
    prefix=${home%/bin}
    if [ -n "$home" ] && [ -d "$prefix" ] && [ "$prefix" != "$home" ] && \
            ! [ -e "$ROOT$prefix" -a -n "$(ls -A "$ROOT$prefix" 2>/dev/null)" ]; then
        bind "$prefix" "$prefix"
        mount -o remount,bind,ro "$ROOT$prefix"
    fi
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

# Inside the root: a clean environment (the host's PIP_*/UV_* settings point at host
# paths), the venv first on PATH, the CA bundle that update-ca-certificates wrote.
inside() {
    local pass=() v
    for v in $(compgen -e); do  # the tests' own settings (TFXKIT_TEST_POSTGRES, ...)
        case $v in TFXKIT_*) pass+=("$v=${!v}") ;; esac
    done
    "${NICE[@]}" chroot "$ROOT" /usr/bin/env -i \
        HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
        PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        VIRTUAL_ENV=$VENV \
        SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
        REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
        UV_SYSTEM_CERTS=1 UV_CACHE_DIR=/var/cache/uv UV_LINK_MODE=copy \
        TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \
        "${pass[@]}" \
        /bin/bash -c 'cd "$1" && shift && exec "$@"' bash "$REPO" "$@"
}

# --- the root file system -----------------------------------------------------------
build_root() {
    if [ -f "$ROOT/.debootstrap-done" ]; then return; fi
    if ! command -v debootstrap >/dev/null; then  # Debian's own package, from its archive
        command -v apt-get >/dev/null || { log "debootstrap missing, and no apt-get to install it"; exit 1; }
        log "apt-get install debootstrap"
        apt-get install -y -q debootstrap >/dev/null 2>&1 || \
            { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; }
    fi
    if [ -e "$ROOT" ]; then
        # a half-made root: nothing may still be mounted in it before it is removed
        if grep -q " $ROOT/" /proc/mounts; then log "mounts left under $ROOT"; exit 1; fi
        rm -rf "$ROOT"
    fi
    mkdir -p "$DIR"
    log "debootstrap $SUITE into $ROOT"
    local t0=$SECONDS
    "${NICE[@]}" debootstrap --variant=minbase \
        --include=$BASE \
        "$SUITE" "$ROOT" "$MIRROR"
    log "debootstrap took $((SECONDS - t0)) s"
    echo "$BASE" > "$ROOT/.debootstrap-done"
}

# What debootstrap did not install (and any package added to PKGS later) comes from apt.
add_packages() {
    [ "$(cat "$ROOT/.debootstrap-done")" = "$PKGS" ] && return
    log "apt-get install ${PKGS//,/ }"
    # no service starts inside the root (redis-server's would take the host's port 6379)
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod +x "$ROOT/usr/sbin/policy-rc.d"
    inside apt-get update -q
    inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${PKGS//,/ }
    echo "$PKGS" > "$ROOT/.debootstrap-done"
}

# The host's extra CA certificates (an egress proxy's among them): without them pip and
# uv fail with CERTIFICATE_VERIFY_FAILED.
copy_certs() {
    local stamp=$ROOT/.certs-done
    local sum
    sum=$(cat /usr/local/share/ca-certificates/* 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return
    mkdir -p "$ROOT/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
    chroot "$ROOT" /usr/sbin/update-ca-certificates >/dev/null
    echo "$sum" > "$stamp"
}

make_venv() {
    if [ ! -x "$ROOT$VENV/bin/python" ]; then
        inside python3 -m venv "$VENV"
    fi
    if [ ! -x "$ROOT$VENV/bin/uv" ] || ! inside uv --version | grep -q " $UV_VERSION"; then
        inside python -m pip install -q uv=="$UV_VERSION"
    fi
}

# The Makefile inside the root picks the tfx121 stack by itself (glibc 2.41 >= 2.39) and
# installs its lock with bytecode compiled, then tfxkit editable (make setup, as on any
# glibc >= 2.39 host); it stops here if it chose anything else.
install_lock() {
    local chosen
    chosen=$(inside make -s print-stack VENV="$VENV")
    log "inside: $chosen"
    case $chosen in "stack tfx121 "*) ;; *) log "the Makefile inside chose another stack"; exit 1;; esac
    local t0=$SECONDS
    inside make -s setup VENV="$VENV"
    log "make setup took $((SECONDS - t0)) s"
    # the downloaded wheels (3 GB) go; what was built from source stays
    inside uv cache prune -q --ci
}

cmd=${1:-root}
shift || true
case $cmd in
    root)
        build_root; copy_certs; mount_all; add_packages; make_venv; install_lock ;;
    lock)
        build_root; copy_certs; mount_all; add_packages; make_venv
        inside uv pip compile "$IN" --universal --python-version 3.12 -o "$LOCK" "$@" ;;
    run)
        compgen -G "$ROOT$VENV/.installed-tfx121-*" >/dev/null || { log "no root yet: make tfx121-root"; exit 1; }
        copy_certs; mount_all; inside "$@" ;;
    shell)
        copy_certs; mount_all; inside /bin/bash -i ;;
    *)
        log "unknown command $cmd (root, lock, run, shell)"; exit 2 ;;
esac
