#!/usr/bin/env bash
# `make cluster-demo` / `make cluster-demo-stop`: the three-server cluster of docs/cluster.md
# on this one machine, each "machine" a network namespace on a bridge (root needed):
#   yurt-demo-1..3  10.220.0.2-4  an etcd member, `yurt scheduler` and `yurt catalog`
#   yurt-demo-4     10.220.0.5    `yurt catalog -client` (a catalog agent) and `yurt client`
#   yurt-demo-5     10.220.0.6    `yurt router` following every catalog server
# and the seed's nginx job (jobs/job.nginx-raw.nomad) served through the router. This host is
# 10.220.0.1 on the bridge and reaches every address. State and logs: .run/cluster/.
# Usage: scripts/cluster-demo.sh up|down
set -euo pipefail

cd "$(dirname "$0")/.."
YURT=${YURT:-$PWD/.venv/bin/yurt}
JOB=${CLUSTER_JOB:-jobs/job.nginx-raw.nomad}
DIR=$PWD/.run/cluster
BRIDGE=yurtdemo0
NET=10.220.0
ip_of() { echo "$NET.$(( $1 + 1 ))"; }   # host i (1-5) is 10.220.0.(i+1)

say() { echo "cluster-demo: $*"; }
die() { echo "cluster-demo: $*" >&2; exit 1; }

# start NAME HOST CMD...: run CMD inside host HOST's namespace, detached, logged, pid kept
start() {
  local name=$1 host=$2; shift 2
  setsid nohup ip netns exec "yurt-demo-$host" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

# wait_url URL WHAT [SECONDS [TEXT]]: until URL answers 200 (with TEXT in its body)
wait_url() {
  local i
  for i in $(seq 1 $(( ${3:-30} * 5 ))); do
    curl -sf -m 2 "$1" 2>/dev/null | grep -Eq -- "${4:-}" && return 0
    sleep 0.2
  done
  die "$2 did not come up ($1); logs in $DIR"
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (ip netns, ip link)"
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "already running (make cluster-demo-stop first)"
  command -v etcd >/dev/null || die "etcd is missing: apt-get install etcd-server etcd-client"
  [[ "$JOB" != *raw* ]] || command -v nginx >/dev/null || die "nginx is missing: apt-get install nginx"
  mkdir -p "$DIR"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local i members=""
  for i in 1 2 3 4 5; do
    ip netns add "yurt-demo-$i"
    ip link add "ydemo$i" type veth peer name eth0 netns "yurt-demo-$i"
    ip link set "ydemo$i" master "$BRIDGE" up
    ip -n "yurt-demo-$i" link set lo up
    ip -n "yurt-demo-$i" addr add "$(ip_of $i)/24" dev eth0
    ip -n "yurt-demo-$i" link set eth0 up
    ip -n "yurt-demo-$i" route add default via "$NET.1"
  done
  for i in 1 2 3; do members+="${members:+,}m$i=http://$(ip_of $i):2380"; done
  for i in 1 2 3; do
    start "etcd-$i" "$i" etcd --name "m$i" --data-dir "$DIR/etcd-$i" \
      --listen-client-urls "http://$(ip_of $i):2379" --advertise-client-urls "http://$(ip_of $i):2379" \
      --listen-peer-urls "http://$(ip_of $i):2380" --initial-advertise-peer-urls "http://$(ip_of $i):2380" \
      --initial-cluster "$members" --max-txn-ops 100000 --max-request-bytes 67108864 \
      --auto-compaction-mode periodic --auto-compaction-retention 1h --log-level warn --logger zap
  done
  for i in 1 2 3; do wait_url "http://$(ip_of $i):2379/health" "etcd member $i"; done
  say "etcd: 3 members on $(ip_of 1), $(ip_of 2), $(ip_of 3)"
  for i in 1 2 3; do
    # each server asks its own host's etcd member first
    local eps="\"http://$(ip_of $i):2379\"" j
    for j in 1 2 3; do [ "$j" = "$i" ] || eps+=", \"http://$(ip_of $j):2379\""; done
    printf 'store {\n  backend   = "etcd"\n  endpoints = [%s]\n}\n' "$eps" >"$DIR/store-$i.hcl"
    start "scheduler-$i" "$i" "$YURT" scheduler -http-addr "$(ip_of $i):4646" \
      -data-dir "$DIR/scheduler-$i" -config "$DIR/store-$i.hcl"
    start "catalog-$i" "$i" "$YURT" catalog -http-addr "$(ip_of $i):8500" -advertise "$(ip_of $i)" \
      -node "server-$i" -data-dir "$DIR/catalog-$i" -config "$DIR/store-$i.hcl"
    # the first server's pair is up before the next starts, so that it leads
    wait_url "http://$(ip_of $i):4646/v1/status/leader" "scheduler $i"
    wait_url "http://$(ip_of $i):8500/v1/status/leader" "catalog $i"
  done
  say "servers: scheduler and catalog on each of $(ip_of 1), $(ip_of 2), $(ip_of 3)"
  local servers="$(ip_of 1):4646,$(ip_of 2):4646,$(ip_of 3):4646"
  local catalogs="$(ip_of 1):8500,$(ip_of 2):8500,$(ip_of 3):8500"
  # the worker's catalog agent in client mode: its services and checks live and run there
  start agent 4 "$YURT" catalog -client -servers "$catalogs" -http-addr "$(ip_of 4):8500" \
    -advertise "$(ip_of 4)" -node worker -data-dir "$DIR/agent"
  wait_url "http://$(ip_of 4):8500/v1/agent/self" "the catalog agent"
  start client 4 "$YURT" client -servers "$servers" -http-addr "$(ip_of 4):4646" \
    -consul-addr "$(ip_of 4):8500" -raw-exec -node worker -data-dir "$DIR/client"
  start router 5 "$YURT" router -proxy.addr "$(ip_of 5):9999" -ui.addr "$(ip_of 5):9998" \
    -registry.consul.addr "$catalogs" -registry.consul.register.enabled false
  wait_url "http://$(ip_of 1):4646/v1/nodes" "the client's node" 30 '"Status": ?"ready"'
  wait_url "http://$(ip_of 5):9998/health" "the router"
  "$YURT" job run -address "http://$(ip_of 2):4646" "$JOB"
  wait_url "http://$(ip_of 5):9999/" "the job through the router" 60
  say "up. The job answers through the router:  curl http://$(ip_of 5):9999/"
  say "leaders: scheduler $(curl -s "http://$(ip_of 2):4646/v1/status/leader")," \
      "catalog $(curl -s "http://$(ip_of 2):8500/v1/status/leader")"
  say "try: curl http://$(ip_of 3):8500/v1/status/peers; $YURT job status -address http://$(ip_of 3):4646"
  say "     kill -9 \$(cat $DIR/scheduler-1.pid) \$(cat $DIR/catalog-1.pid)  # the leaders"
  say "stop: make cluster-demo-stop"
}

down() {
  local pid f
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
  done
  for f in "$DIR"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  local i
  for i in 1 2 3 4 5; do
    # what the client left running (a Nomad client leaves its tasks when it stops)
    pids=$(ip netns pids "yurt-demo-$i" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    ip netns del "yurt-demo-$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  # the state goes too: the next `make cluster-demo` makes a new etcd cluster
  rm -rf "$DIR"
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) die "usage: $0 up|down" ;;
esac
