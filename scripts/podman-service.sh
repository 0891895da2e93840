#!/usr/bin/env bash
# Starts Podman's Docker-compatible API service, for yurt's docker driver and its tests.
# Usage: scripts/podman-service.sh [RUN_DIR]   (default ./.run)
# Idempotent: installs podman/runc/busybox-static/catatonit with apt when root and missing, reuses a
# service that already answers on RUN_DIR/podman.sock. Prints the DOCKER_HOST to use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run_dir=${1:-./.run}
mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
sock="$run_dir/podman.sock"
export CONTAINERS_CONF="$here/podman/containers.conf"

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
# A docker task's `init = true` makes Podman run catatonit as the container's PID 1.
[ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "podman-service: missing ${missing[*]}; install: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }
if ! ping; then
  rm -f "$sock"
  nohup podman system service --time=0 "unix://$sock" >"$run_dir/podman.log" 2>&1 &
  echo $! >"$run_dir/podman.pid"
  for _ in $(seq 1 100); do
    ping && break
    sleep 0.1
  done
  ping || { echo "podman-service: service did not answer on $sock; see $run_dir/podman.log" >&2; exit 1; }
fi
echo "unix://$sock"
