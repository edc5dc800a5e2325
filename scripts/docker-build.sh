#!/usr/bin/env bash
# Builds and (with --push) publishes the multi-arch image. Needs a Docker engine with buildx.
#   scripts/docker-build.sh [--push] [image[:tag]]
set -euo pipefail
cd "$(dirname "$0")/.."
push=--load
if [ "${1:-}" = "--push" ]; then push=--push; shift; fi
image=${1:-ghcr.io/homelab/homelab-chatops:$(node -p 'require("./package.json").version')}
platforms=linux/arm64,linux/amd64
# --load can only hold one platform; build the host's for local use.
[ "$push" = --load ] && platforms=linux/$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
docker buildx build --platform "$platforms" -t "$image" "$push" .
