#!/usr/bin/env bash
# Builds infra/deploy/docker/Dockerfile and runs the multiclass template end to end in the image
# (tfxkit run --profile quick, as a Kubeflow step would: inside the container, as its user).
#
#   infra/deploy/docker/check.sh (make image-check)  needs a Docker engine (docker info answers) and BuildKit
#                                    (for Dockerfile.dockerignore): buildx, or a client with
#                                    it built in (Debian 12's docker.io)
#
# Where Docker Hub cannot be reached (this project's machines reach only PyPI, Debian's
# archive and npm), the official base image (the Dockerfile's BASE_IMAGE) cannot be pulled:
# a stand-in of the same OS and Python is made instead, Debian 13 (trixie) with its Python
# 3.13 and its headers (the official image has them too), with debootstrap from Debian's
# archive, the host's CA certificates added (an egress
# proxy's among them), and imported as tfxkit-standin:trixie. The output says which base
# was used. Set BASE_IMAGE to build on another one.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd -P)
cd "$REPO"
TAG=${TAG:-tfxkit:check}
WORK=${DOCKER_CHECK_DIR:-$REPO/.docker-check}
log() { echo "docker-check: $*" >&2; }

docker info >/dev/null 2>&1 || { log "no Docker engine answers (docker info)"; exit 1; }
default_base=$(sed -n 's/^ARG BASE_IMAGE=//p' infra/deploy/docker/Dockerfile)
base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
    if docker image inspect "$default_base" >/dev/null 2>&1 || \
            timeout 120 docker pull -q "$default_base" >/dev/null 2>&1; then
        base=$default_base
    else
        base=tfxkit-standin:trixie
        log "$default_base cannot be pulled: building on a stand-in, $base (Debian 13, its Python 3.13)"
        if ! docker image inspect "$base" >/dev/null 2>&1; then
            [ "$(id -u)" = 0 ] || { log "the stand-in needs root (debootstrap)"; exit 1; }
            command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
            rm -rf "$WORK/root" && mkdir -p "$WORK"
            debootstrap --variant=minbase --include=python3,python3-venv,python3-dev,ca-certificates \
                trixie "$WORK/root" http://deb.debian.org/debian >"$WORK/debootstrap.log"
            cp -a /usr/local/share/ca-certificates/. "$WORK/root/usr/local/share/ca-certificates/" 2>/dev/null || true
            chroot "$WORK/root" update-ca-certificates >/dev/null
            rm -rf "$WORK/root/var/cache/apt/archives/"*.deb "$WORK/root/var/lib/apt/lists/"*
            tar -C "$WORK/root" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$base" >/dev/null
            rm -rf "$WORK/root"
        fi
    fi
fi
log "base image: $base"
t0=$SECONDS
DOCKER_BUILDKIT=1 docker build --network host -f infra/deploy/docker/Dockerfile \
    --build-arg BASE_IMAGE="$base" -t "$TAG" .
log "built $TAG in $((SECONDS - t0)) s; $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.1f GB", $1/1e9}')"
docker run --rm "$TAG" python -c 'import sys, tfx, tensorflow as tf, keras
print("in the image: Python %d.%d, TFX %s, TensorFlow %s, Keras %s" % (sys.version_info[:2] + (tfx.__version__, tf.__version__, keras.__version__)))'
t0=$SECONDS
docker run --rm --network host "$TAG" tfxkit run config.yaml --profile quick --no-report
log "the template ran end to end in the image in $((SECONDS - t0)) s"
