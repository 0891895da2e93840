#!/usr/bin/env bash
# Installs the Debian packages that yurt's demo and tests run for real (nginx, redis,
# Podman as the Docker-compatible engine, wrk, Chromium). Idempotent: does nothing when
# everything is present. Without root it only says what is missing.
set -euo pipefail

want=(nginx:nginx-light redis-server:redis-server podman:podman runc:runc
      busybox:busybox-static wrk:wrk chromium:chromium slirp4netns:slirp4netns
      newuidmap:uidmap ip:iproute2 curl:curl catatonit:catatonit
      htpasswd:apache2-utils openssl:openssl)
missing=()
for pair in "${want[@]}"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/bin/$cmd" ]; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "yurt: these Debian packages are missing and I am not root: ${missing[*]}" >&2
  echo "yurt: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "yurt: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
