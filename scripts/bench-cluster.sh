#!/usr/bin/env bash
# bench-cluster.sh — start/stop a throw-away 1- or 3-member etcq cluster on 127.0.0.1 for
# benchmarks, with auto-TLS (one PKI directory shared by the members, as scripts/cluster.sh)
# and every member's data in its own mktemp dir. Same contract as the anchors'
# etcd-cluster.sh, so that the same runner drives both:
#
#   scripts/bench-cluster.sh start N        N = 1 or 3
#   scripts/bench-cluster.sh stop [--save-logs DIR]
#   scripts/bench-cluster.sh status
#   scripts/bench-cluster.sh env            shell exports: BENCH_ENDPOINTS, BENCH_CACERT,
#                                           BENCH_CERT, BENCH_KEY, BENCH_PIDS, BENCH_LOGDIR
#
# Ports (UDP: etcq speaks QUIC), one per member, chosen not to clash with scripts/cluster.sh
# or the anchors' etcd: BENCH_ETCQ_CLIENT_PORTS (default "14379 14479 14579") and
# BENCH_ETCQ_PEER_PORTS ("14380 14480 14580").
# Binaries: BENCH_ETCQ_BIN (default bin/etcq of this repository) and BENCH_ETCQCTL_BIN
# (bin/etcqctl, for the health check). Extra daemon flags for every member:
# BENCH_ETCQ_FLAGS="--snapshot-count=10000 ...".
# State: BENCH_ETCQ_STATE (default .run/bench-cluster.state in this repository): PIDs and
# temp dirs; `stop` kills exactly those PIDs (after checking each still is the etcq we
# started on its data dir) and removes exactly those temp dirs.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${BENCH_ETCQ_STATE:-$REPO/.run/bench-cluster.state}"
BIN="${BENCH_ETCQ_BIN:-$REPO/bin/etcq}"
CTL="${BENCH_ETCQCTL_BIN:-$REPO/bin/etcqctl}"
HOST=127.0.0.1
read -r -a CLIENT_PORTS <<<"${BENCH_ETCQ_CLIENT_PORTS:-14379 14479 14579}"
read -r -a PEER_PORTS <<<"${BENCH_ETCQ_PEER_PORTS:-14380 14480 14580}"

die() { echo "bench-cluster: $*" >&2; exit 1; }
log() { echo "bench-cluster: $*" >&2; }

# --- state file: plain KEY=VALUE lines, parsed (never sourced) ---------------
state_get() {
  [[ -f "$STATE" ]] || return 0
  local k v
  while IFS='=' read -r k v; do
    [[ "$k" == "$1" ]] && { printf '%s\n' "$v"; return 0; }
  done <"$STATE"
}

udp_busy() { # port -> 0 if a UDP socket is bound to it (local_address ends in :PORT, hex)
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' \
    /proc/net/udp /proc/net/udp6 2>/dev/null
}

pid_is_ours() { # pid datadir -> 0 if pid is alive and is an etcq using datadir
  local pid=$1 dir=$2
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--data-dir=$dir"
}

cmd_start() {
  local n=${1:-}
  [[ "$n" == 1 || "$n" == 3 ]] || die "usage: $0 start 1|3"
  [[ -x "$BIN" ]] || die "$BIN not found: run 'make build' first (or set BENCH_ETCQ_BIN)"
  [[ -x "$CTL" ]] || die "$CTL not found: run 'make build' first (or set BENCH_ETCQCTL_BIN)"
  [[ -f "$STATE" ]] && die "state file $STATE exists (cluster running?); run '$0 stop' first"
  ((${#CLIENT_PORTS[@]} >= n && ${#PEER_PORTS[@]} >= n)) || die "need $n client and peer ports"
  local i
  for ((i = 0; i < n; i++)); do
    udp_busy "${CLIENT_PORTS[i]}" && die "UDP port ${CLIENT_PORTS[i]} already in use on $HOST (set BENCH_ETCQ_CLIENT_PORTS)"
    udp_busy "${PEER_PORTS[i]}" && die "UDP port ${PEER_PORTS[i]} already in use on $HOST (set BENCH_ETCQ_PEER_PORTS)"
  done
  mkdir -p "$(dirname "$STATE")"

  local run pki logs
  run="$(mktemp -d -t etcq-cluster.XXXXXX)"
  pki="$run/pki"; logs="$run/logs"
  mkdir -p "$logs"
  {
    echo "RUNDIR=$run"
    echo "PKIDIR=$pki"
    echo "LOGDIR=$logs"
    echo "MEMBERS=$n"
  } >"$STATE"

  local initial="" token
  token="etcq-bench-$RANDOM$RANDOM"
  for ((i = 0; i < n; i++)); do
    initial+="${initial:+,}m$i=https://$HOST:${PEER_PORTS[i]}"
  done
  # Don't let stray ETCQ_* variables of the caller reconfigure the members.
  local v
  for v in $(compgen -e); do
    case "$v" in ETCQ_*) unset "$v" ;; esac
  done
  local -a extra=()
  if [[ -n "${BENCH_ETCQ_FLAGS:-}" ]]; then
    read -r -a extra <<<"$BENCH_ETCQ_FLAGS"
  fi

  local pids=() dirs=() eps=() data cu pu
  for ((i = 0; i < n; i++)); do
    data="$(mktemp -d -t "etcq-m$i.XXXXXX")"
    chmod 700 "$data"
    dirs+=("$data")
    echo "DATADIR_$i=$data" >>"$STATE"
    cu="https://$HOST:${CLIENT_PORTS[i]}"
    pu="https://$HOST:${PEER_PORTS[i]}"
    eps+=("$cu")
    "$BIN" "--name=m$i" "--data-dir=$data" "--auto-tls" "--pki-dir=$pki" \
      "--listen-client-urls=$cu" "--advertise-client-urls=$cu" \
      "--listen-peer-urls=$pu" "--initial-advertise-peer-urls=$pu" \
      "--initial-cluster=$initial" "--initial-cluster-token=$token" "--initial-cluster-state=new" \
      ${extra[@]+"${extra[@]}"} </dev/null >"$logs/m$i.log" 2>&1 &
    pids+=("$!")
    echo "PID_$i=$!" >>"$STATE"
  done
  {
    echo "PIDS=${pids[*]}"
    echo "ENDPOINTS=$(IFS=,; echo "${eps[*]}")"
  } >>"$STATE"

  # Wait (bounded) until each pid has exec'd etcq, then until every member is healthy.
  local t_exec=$((SECONDS + 10))
  for ((i = 0; i < n; i++)); do
    until pid_is_ours "${pids[i]}" "${dirs[i]}"; do
      if ! kill -0 "${pids[i]}" 2>/dev/null || ((SECONDS > t_exec)); then
        log "member m$i (pid ${pids[i]}) did not start; last log lines:"
        tail -n 20 "$logs/m$i.log" >&2 || true
        cmd_stop >/dev/null 2>&1 || true
        exit 1
      fi
      sleep 0.05
    done
  done
  local deadline=$((SECONDS + 60)) ok
  while :; do
    for ((i = 0; i < n; i++)); do
      if ! pid_is_ours "${pids[i]}" "${dirs[i]}"; then
        log "member m$i (pid ${pids[i]}) exited during start-up; last log lines:"
        tail -n 20 "$logs/m$i.log" >&2 || true
        cmd_stop >/dev/null 2>&1 || true
        exit 1
      fi
    done
    ok=0
    if [[ -f "$pki/root.pem" ]]; then
      for ((i = 0; i < n; i++)); do
        if "$CTL" --endpoints="${eps[i]}" --cacert="$pki/ca-bundle.pem" --cert="$pki/root.pem" \
            --key="$pki/root-key.pem" --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then
          ok=$((ok + 1))
        fi
      done
    fi
    ((ok == n)) && break
    if ((SECONDS > deadline)); then
      log "cluster not healthy after 60 s; see $logs"
      cmd_stop >/dev/null 2>&1 || true
      exit 1
    fi
    sleep 0.3
  done
  log "started $n member(s): pids ${pids[*]}"
  cmd_env
}

cmd_env() {
  [[ -f "$STATE" ]] || die "no state file $STATE (cluster not started)"
  local pki
  pki="$(state_get PKIDIR)"
  echo "export BENCH_ENDPOINTS=$(state_get ENDPOINTS)"
  echo "export BENCH_CACERT=$pki/ca-bundle.pem"
  echo "export BENCH_CERT=$pki/root.pem"
  echo "export BENCH_KEY=$pki/root-key.pem"
  echo "export BENCH_PIDS=\"$(state_get PIDS)\""
  echo "export BENCH_LOGDIR=$(state_get LOGDIR)"
  echo "export BENCH_CLIENT_SCHEME=https"
}

cmd_status() {
  [[ -f "$STATE" ]] || { echo "not running (no state file $STATE)"; return 0; }
  local n i pid dir
  n="$(state_get MEMBERS)"
  for ((i = 0; i < n; i++)); do
    pid="$(state_get "PID_$i")"; dir="$(state_get "DATADIR_$i")"
    if [[ -n "$pid" ]] && pid_is_ours "$pid" "$dir"; then
      echo "m$i pid $pid running  data $dir"
    else
      echo "m$i pid ${pid:-?} NOT running"
    fi
  done
  echo "endpoints $(state_get ENDPOINTS)"
}

cmd_stop() {
  local save=""
  if [[ "${1:-}" == "--save-logs" ]]; then
    save="${2:?--save-logs needs a directory}"
  fi
  [[ -f "$STATE" ]] || { log "nothing to stop (no state file $STATE)"; return 0; }
  local n i pid dir run
  n="$(state_get MEMBERS)"; run="$(state_get RUNDIR)"
  local -a live=()
  for ((i = 0; i < ${n:-0}; i++)); do
    pid="$(state_get "PID_$i")"; dir="$(state_get "DATADIR_$i")"
    [[ -n "$pid" && -n "$dir" ]] || continue
    if pid_is_ours "$pid" "$dir"; then
      kill -TERM "$pid" 2>/dev/null || true
      live+=("$pid:$dir")
    fi
  done
  local deadline=$((SECONDS + 15)) e still
  while ((${#live[@]})); do
    still=()
    for e in "${live[@]}"; do
      pid_is_ours "${e%%:*}" "${e#*:}" && still+=("$e")
    done
    live=(${still[@]+"${still[@]}"})
    ((${#live[@]})) || break
    if ((SECONDS > deadline)); then
      for e in "${live[@]}"; do
        log "pid ${e%%:*} ignored SIGTERM; sending SIGKILL"
        kill -KILL "${e%%:*}" 2>/dev/null || true
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  if [[ -n "$save" && -n "$run" && -d "$run/logs" ]]; then
    mkdir -p "$save" && cp -p "$run"/logs/*.log "$save"/ 2>/dev/null || true
  fi
  for ((i = 0; i < ${n:-0}; i++)); do
    dir="$(state_get "DATADIR_$i")"
    [[ -n "$dir" && -d "$dir" && "$(basename "$dir")" == etcq-m$i.* ]] && rm -rf -- "$dir"
  done
  [[ -n "$run" && -d "$run" && "$(basename "$run")" == etcq-cluster.* ]] && rm -rf -- "$run"
  rm -f -- "$STATE"
  log "stopped"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) die "usage: $0 start 1|3 | stop [--save-logs DIR] | status | env" ;;
esac
