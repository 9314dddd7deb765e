#!/usr/bin/env bash
# Container check: build the image with podman (no Docker engine here, see docker/Dockerfile),
# run it, and test it over HTTP (pytest marker `container`). Needs root for apt-get and podman.
# The figures (image size, time to healthy) land in bench/RESULTS-container.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null || ! command -v runc >/dev/null \
    || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap
fi

# podman settings this sandbox needs: no default ulimits (runc and cgroupfs are passed by the test)
mkdir -p /tmp/podman-conf
printf '[containers]\ndefault_ulimits = []\n' > /tmp/podman-conf/containers.conf
export CONTAINERS_CONF=/tmp/podman-conf/containers.conf

make setup
.venv/bin/pytest -m container tests/container -q "$@"
