#!/usr/bin/env bash
# Starts a three-member etcq cluster on 127.0.0.1 (client ports 2379, 22379, 32379; peer
# ports 2380, 22380, 32380, as etcd's local Procfile), sharing one generated PKI, and
# stops all three on Ctrl-C. Usage: scripts/cluster.sh RUN_DIR [extra etcq flags...]
set -euo pipefail
run_dir=${1:-.run}
shift || true
bin=./bin/etcq
cluster="infra1=https://127.0.0.1:2380,infra2=https://127.0.0.1:22380,infra3=https://127.0.0.1:32380"
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
trap stop INT TERM EXIT
for i in 1 2 3; do
  port=$([ "$i" = 1 ] && echo 2379 || echo "${i}2379")
  peer=$([ "$i" = 1 ] && echo 2380 || echo "${i}2380")
  "$bin" --name "infra$i" --data-dir "$run_dir/infra$i" --auto-tls --pki-dir "$run_dir/pki" \
    --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://127.0.0.1:$port" \
    --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
    --initial-cluster "$cluster" --initial-cluster-token etcq-local-cluster --initial-cluster-state new \
    "$@" 2> >(sed "s/^/infra$i | /" >&2) &
  pids+=($!)
done
echo "three members starting; Ctrl-C stops them" >&2
wait -n "${pids[@]}" || true
