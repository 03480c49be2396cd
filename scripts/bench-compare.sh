#!/usr/bin/env bash
# bench-compare.sh — etcq and etcd 3.4 side by side, on the anchors' workload shapes, on this
# machine, and one table of the results.
#
#   scripts/bench-compare.sh [SCENARIO ...]        (make bench-compare)
#
# Scenarios (default: a b c d e f), as ../shared/anchors/run-etcd-bench.sh, 8-byte keys,
# 256-byte values, mutual TLS; totals are the anchors' times BENCH_SCALE:
#   a  3 members  put                conns=1   clients=1     total=3000    leader
#   b  3 members  put                conns=10  clients=100   total=50000   leader
#   c  3 members  put                conns=100 clients=1000  total=100000  leader
#   d  1 member   put                conns=100 clients=1000  total=100000
#   e  3 members  linearizable get   conns=10  clients=100   total=100000  leader
#   f  3 members  serializable get   conns=10  clients=100   total=100000  all members
#   m  3 members  put, 1,000,000 requests over a space of 100,000,000 keys (about 995,000
#                 distinct keys), conns=100 clients=1000, leader: memory (RSS) after a million
#                 keys; never scaled, bounded by BENCH_MEM_DEADLINE (default 900s)
#   e_all, f_ldr: the anchors' extras (linearizable spread over all; serializable at the leader)
#
# For each scenario, etcq first, then etcd: each on a FRESH cluster (etcq: scripts/bench-cluster.sh;
# etcd: the anchors' etcd-cluster.sh), after waiting for an idle machine as the anchors' runner
# does; etcq is driven by `etcqctl bench`, etcd by the anchors' etcdbench with the runner's
# flags. Between the bench and the stop, the members' VmRSS and CPU time are read from /proc
# (only the PIDs the cluster scripts started). A run during which other processes used more
# than FOREIGN_MAX_CORES is repeated (at most MAX_ATTEMPTS times; the last is kept and flagged).
#
# Environment:
#   BENCH_SCALE        multiplies the anchors' totals (default 0.5; 1 = the anchors' exact totals)
#   BENCH_OUT          where results go (default: a new mktemp dir, printed)
#   BENCH_ANCHORS      the anchors directory (default ../shared/anchors next to this repository)
#   BENCH_ETCQ_BIN, BENCH_ETCQCTL_BIN   the binaries (default bin/etcq, bin/etcqctl: make build)
#   BENCH_ETCD_CLIENT_PORTS / BENCH_ETCD_PEER_PORTS  etcd's TCP ports (default 13379 13479 13579 /
#                      13380 13480 13580: not the anchors' documented ones); etcq's UDP ports: see scripts/bench-cluster.sh
#   BENCH_SYSTEMS      "etcq etcd" (default: etcq first in each scenario), "etcd etcq", or one of them
#   BENCH_ETCD_RUNNER  1: run the etcd side through the anchors' run-etcd-bench.sh itself, at its
#                      fixed totals (use with BENCH_SCALE=1 for equal shapes)
#   BENCH_DEADLINE     bound of each timed phase (default 90s; m: BENCH_MEM_DEADLINE)
#   QUIET_MAX_CORES (0.15), QUIET_WAIT_S (60), FOREIGN_MAX_CORES (0.10), MAX_ATTEMPTS (2)
#
# Needs: go, openssl; etcd and etcdctl (Debian's etcd-server and etcd-client, 3.4.23: installed
# with apt-get when missing, as the anchors expect). All traffic stays on 127.0.0.1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ANCHORS="${BENCH_ANCHORS:-$REPO/../shared/anchors}"
SCALE="${BENCH_SCALE:-0.5}"
DEADLINE="${BENCH_DEADLINE:-90s}"
MEM_DEADLINE="${BENCH_MEM_DEADLINE:-900s}"
SYSTEMS="${BENCH_SYSTEMS:-etcq etcd}"
QUIET_MAX_CORES="${QUIET_MAX_CORES:-0.15}"
QUIET_WAIT_S="${QUIET_WAIT_S:-60}"
FOREIGN_MAX_CORES="${FOREIGN_MAX_CORES:-0.10}"
MAX_ATTEMPTS="${MAX_ATTEMPTS:-2}"
ETCQ="${BENCH_ETCQ_BIN:-$REPO/bin/etcq}"
ETCQCTL="${BENCH_ETCQCTL_BIN:-$REPO/bin/etcqctl}"
export BENCH_ETCQ_BIN="$ETCQ" BENCH_ETCQCTL_BIN="$ETCQCTL"

SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(a b c d e f m)

die() { echo "bench-compare: $*" >&2; exit 1; }
say() { echo "bench-compare: $*" >&2; }

# scenario -> "members op conns clients total target keyspace", as run-etcd-bench.sh's spec
# (and the key space puts draw from).
spec() {
  case "$1" in
    a) echo "3 put 1 1 3000 leader 100000" ;;
    b) echo "3 put 10 100 50000 leader 100000" ;;
    c) echo "3 put 100 1000 100000 leader 100000" ;;
    d) echo "1 put 100 1000 100000 leader 100000" ;;
    e) echo "3 get 10 100 100000 leader 100000" ;;
    f) echo "3 get-serializable 10 100 100000 all 100000" ;;
    m) echo "3 put 100 1000 1000000 leader 100000000" ;;
    e_all) echo "3 get 10 100 100000 all 100000" ;;
    f_ldr) echo "3 get-serializable 10 100 100000 leader 100000" ;;
    *) return 1 ;;
  esac
}
label() {
  local m op c k t tg ks
  read -r m op c k t tg ks <<<"$(spec "$1")"
  case "$op" in put) op=put ;; get) op="lin. get" ;; get-serializable) op="ser. get" ;; esac
  [[ "$1" == m ]] && op="put 1M keys"
  echo "($1) ${m}m $op c$c/k$k${tg:+ $tg}"
}
for s in "${SCENARIOS[@]}"; do spec "$s" >/dev/null || die "unknown scenario $s (a b c d e f m e_all f_ldr)"; done
awk -v s="$SCALE" 'BEGIN{exit !(s > 0)}' || die "BENCH_SCALE must be a positive number, not '$SCALE'"
for sys in $SYSTEMS; do
  [[ "$sys" == etcq || "$sys" == etcd ]] || die "BENCH_SYSTEMS: unknown system '$sys'"
done
want() { [[ " $SYSTEMS " == *" $1 "* ]]; }

# --- prerequisites --------------------------------------------------------------------------
command -v go >/dev/null || die "go not on PATH"
[[ -x "$ETCQ" && -x "$ETCQCTL" ]] || die "$ETCQ or $ETCQCTL missing: run 'make build' first"
if want etcd; then
  [[ -x "$ANCHORS/etcd-cluster.sh" && -d "$ANCHORS/etcdbench" ]] || die "anchors not found in $ANCHORS (set BENCH_ANCHORS)"
  missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  command -v openssl >/dev/null || missing+=(openssl)
  if ((${#missing[@]})); then
    say "installing ${missing[*]} (Debian packages, as the anchors expect)"
    sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2 ||
      { "${sudo[@]}" apt-get update -q >&2 && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >&2; } ||
      die "could not install ${missing[*]}"
  fi
  etcd_version="$(etcd --version 2>/dev/null | awk '/etcd Version/{print $3}')"
  [[ "$etcd_version" == 3.4.* ]] || say "warning: etcd $etcd_version, the anchors measured 3.4.23"
fi

OUT="${BENCH_OUT:-$(mktemp -d -t etcq-bench-compare.XXXXXX)}"
mkdir -p "$OUT/runs" "$OUT/logs"
say "results -> $OUT"

if want etcd; then
  # The anchors directory is read-only: the anchors are copied, etcdbench is built in the copy
  # (where run-etcd-bench.sh expects it), and etcd-cluster.sh keeps its state file here.
  rm -rf "$OUT/anchors"
  cp -r "$ANCHORS" "$OUT/anchors"
  chmod -R u+w "$OUT/anchors"
  rm -f "$OUT/anchors/etcdbench/etcdbench" "$OUT/anchors/.etcd-cluster.state"
  say "building etcdbench (the anchors' load generator)"
  (cd "$OUT/anchors/etcdbench" && GOFLAGS=-mod=mod go build -o etcdbench .) || die "cannot build etcdbench"
  export BENCH_ETCD_STATE="$OUT/etcd-cluster.state"
  export BENCH_CLIENT_PORTS="${BENCH_ETCD_CLIENT_PORTS:-13379 13479 13579}"
  export BENCH_PEER_PORTS="${BENCH_ETCD_PEER_PORTS:-13380 13480 13580}"
  # For BENCH_ETCD_RUNNER=1: run-etcd-bench.sh's cluster script, which reads the members'
  # VmRSS before it stops them.
  cat >"$OUT/etcd-cluster-rss.sh" <<EOF2
#!/usr/bin/env bash
set -euo pipefail
if [[ "\${1:-}" == stop && -f "\$BENCH_ETCD_STATE" && -n "\${BENCH_RSS_FILE:-}" ]]; then
  for p in \$(grep '^PIDS=' "\$BENCH_ETCD_STATE" | cut -d= -f2); do
    awk '/^VmRSS:/{printf "%.0f\\n", \$2/1024}' "/proc/\$p/status" 2>/dev/null || echo '?'
  done | paste -sd/ >"\$BENCH_RSS_FILE"
fi
exec "$OUT/anchors/etcd-cluster.sh" "\$@"
EOF2
  chmod +x "$OUT/etcd-cluster-rss.sh"
fi
export BENCH_ETCQ_STATE="$OUT/etcq-cluster.state"

cluster_script() { # system -> its cluster script
  if [[ "$1" == etcq ]]; then echo "$REPO/scripts/bench-cluster.sh"; else echo "$OUT/anchors/etcd-cluster.sh"; fi
}
up=""
cleanup() { if [[ -n "$up" ]]; then "$(cluster_script "$up")" stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "etcq: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  want etcd && echo "etcd: $(etcd --version 2>/dev/null | tr '\n' ' ')"
  echo "scenarios: ${SCENARIOS[*]}  scale: $SCALE  systems: $SYSTEMS  deadline: $DEADLINE"
} >"$OUT/env.txt"

# --- /proc sampling, as the anchors' runner -------------------------------------------------
busy_ticks() { awk '/^cpu /{t=0; for(i=2;i<=9;i++) t+=$i; print t-$5-$6; exit}' /proc/stat; }
sample_busy_cores() {
  local a b
  a=$(busy_ticks); sleep 2; b=$(busy_ticks)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", (b-a)/100/2}'
}
wait_quiet() { # echoes "<busy_cores> <waited_s>"
  local t0=$SECONDS c
  while :; do
    c=$(sample_busy_cores)
    if awk -v c="$c" -v m="$QUIET_MAX_CORES" 'BEGIN{exit !(c < m)}' || ((SECONDS - t0 > QUIET_WAIT_S)); then
      echo "$c $((SECONDS - t0))"; return 0
    fi
    say "  machine busy (${c} cores used by others); waiting..."
    sleep 5
  done
}
pids_ticks() { # pids... -> summed utime+stime ticks
  local p t=0 f
  for p in "$@"; do
    if [[ -r "/proc/$p/stat" ]]; then
      f="$(sed 's/^.*) //' "/proc/$p/stat")"
      t=$((t + $(awk '{print $12 + $13}' <<<"$f")))
    fi
  done
  echo "$t"
}
kernel_ticks() { # -> utime+stime ticks of the kernel's threads (kthreadd and its children)
  local f line pid t=0
  local -a st
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue # (a process may be gone by now)
    pid="${line%% *}"
    read -r -a st <<<"${line##*) }" # state ppid ... utime (12th) stime (13th)
    if [[ "$pid" == 2 || "${st[1]}" == 2 ]]; then
      t=$((t + st[11] + st[12]))
    fi
  done
  echo "$t"
}
rss_mib() { # pids... -> "a/b/c" VmRSS in MiB
  local p out=""
  for p in "$@"; do
    out+="${out:+/}$(awk '/^VmRSS:/{printf "%.0f", $2/1024}' "/proc/$p/status" 2>/dev/null || echo '?')"
  done
  echo "$out"
}
jnum() { # json field -> number ('' if absent)
  grep -o "\"$2\":[-0-9.e+]*" <<<"$1" | head -n 1 | cut -d: -f2 || true
}

# run_etcd_runner scenario: etcd through the anchors' own run-etcd-bench.sh (its totals, its
# idle-machine gating and foreign-load retries), one line appended to $OUT/results.jsonl.
run_etcd_runner() {
  local s=$1 rss="$OUT/runs/etcd-$s.rss" l rc=0
  say "== etcd-$s: the anchors' run-etcd-bench.sh -r 1 $s"
  BENCH_CLUSTER_SCRIPT="$OUT/etcd-cluster-rss.sh" BENCH_RSS_FILE="$rss" BENCH_DEADLINE="$DEADLINE" \
    QUIET_MAX_CORES="$QUIET_MAX_CORES" QUIET_WAIT_S="$QUIET_WAIT_S" FOREIGN_MAX_CORES="$FOREIGN_MAX_CORES" \
    MAX_ATTEMPTS="$MAX_ATTEMPTS" "$OUT/anchors/run-etcd-bench.sh" -r 1 -o "$OUT/etcd-runner" "$s" || rc=$?
  l="$(grep -F "\"scenario\":\"$s\"" "$OUT/etcd-runner/results.jsonl" 2>/dev/null | tail -n 1 || true)"
  [[ -n "$l" ]] || { say "  run-etcd-bench.sh $s left no result (exit $rc)"; return 0; }
  local el client_cores
  el=$(jnum "$l" elapsed_s)
  client_cores=$(awk -v c="$(jnum "$l" client_cpu_s)" -v e="${el:-0}" 'BEGIN{printf "%.3f", (e > 0 ? c/e : 0)}')
  echo "{\"system\":\"etcd\",\"scenario\":\"$s\",\"runner\":\"run-etcd-bench.sh\",\"exit\":$(jnum "$l" exit | grep . || echo 0),\"total\":$(jnum "$l" total | grep . || echo 0),\"qps\":$(jnum "$l" qps | grep . || echo 0),\"p50_ms\":$(jnum "$l" p50_ms | grep . || echo 0),\"p99_ms\":$(jnum "$l" p99_ms | grep . || echo 0),\"ok\":$(jnum "$l" ok | grep . || echo 0),\"errors\":$(jnum "$l" errors | grep . || echo 0),\"rss_mib\":\"$(cat "$rss" 2>/dev/null || echo '?')\",\"server_cores\":$(awk -v v="$(jnum "$l" server_cores)" 'BEGIN{printf "%.3f", v}'),\"client_cores\":$client_cores,\"busy_cores\":$(jnum "$l" sys_busy_cores | grep . || echo 0),\"other_cores\":$(jnum "$l" foreign_cores | grep . || echo 0),\"contaminated\":$(grep -o '"contaminated":[a-z]*' <<<"$l" | cut -d: -f2 | grep . || echo false)}" >>"$OUT/results.jsonl"
  say "  $(awk -v q="$(jnum "$l" qps)" 'BEGIN{printf "%.0f", q}') req/s, p50 $(jnum "$l" p50_ms) ms, p99 $(jnum "$l" p99_ms) ms, RSS MiB $(cat "$rss" 2>/dev/null || echo '?')"
}

# run_one system scenario -> appends one JSON object to $OUT/results.jsonl
run_one() {
  local sys=$1 s=$2 members op conns clients total target
  if [[ "$sys" == etcd && "${BENCH_ETCD_RUNNER:-0}" == 1 && "$s" != m ]]; then
    run_etcd_runner "$s"
    return
  fi
  local keyspace deadline=$DEADLINE
  read -r members op conns clients total target keyspace <<<"$(spec "$s")"
  if [[ "$s" == m ]]; then
    deadline=$MEM_DEADLINE # a million keys, whatever the scale
  else
    total=$(awk -v t="$total" -v s="$SCALE" 'BEGIN{n=int(t*s+0.5); print (n < 1 ? 1 : n)}')
  fi
  local script attempt run env_out idle waited rc json t0 t1 b0 b1 c0 c1 k0 k1 wall
  script="$(cluster_script "$sys")"
  for ((attempt = 1; attempt <= MAX_ATTEMPTS; attempt++)); do
    run="$sys-$s.$attempt"
    say "== $run: members=$members op=$op conns=$conns clients=$clients total=$total target=$target"
    env_out="$("$script" start "$members")" || die "$sys cluster did not start"
    up=$sys
    eval "$env_out"
    read -r idle waited <<<"$(wait_quiet)"
    local -a pids cmd
    read -r -a pids <<<"$BENCH_PIDS"
    if [[ "$sys" == etcq ]]; then
      cmd=("$ETCQCTL" --endpoints="$BENCH_ENDPOINTS" --cacert="$BENCH_CACERT" --cert="$BENCH_CERT" --key="$BENCH_KEY"
        bench --conns="$conns" --clients="$clients" --total="$total" --key-size=8 --val-size=256
        --deadline="$deadline" --json --no-progress --csv="$OUT/runs/$run.csv" --png="$OUT/runs/$run.png")
      case "$op" in
        put) cmd+=(put --key-space-size="$keyspace") ;;
        get) cmd+=(range --consistency=l) ;;
        get-serializable) cmd+=(range --consistency=s) ;;
      esac
      [[ "$target" == leader ]] && cmd+=(--target-leader)
    else
      cmd=("$OUT/anchors/etcdbench/etcdbench" --endpoints="$BENCH_ENDPOINTS" --cacert="$BENCH_CACERT" --cert="$BENCH_CERT" --key="$BENCH_KEY"
        --conns="$conns" --clients="$clients" --total="$total" --op="$op" --target="$target"
        --key-space="$keyspace" --deadline="$deadline" --watch-pids="${BENCH_PIDS// /,}")
    fi
    rc=0
    k0=$(kernel_ticks); b0=$(busy_ticks); c0=$(pids_ticks "${pids[@]}"); t0=$(date +%s.%N)
    # bash's time keyword: the bench process's own CPU (user, system), set-up included.
    { TIMEFORMAT='%3U %3S'; time "${cmd[@]}" >"$OUT/runs/$run.out" 2>"$OUT/runs/$run.err"; } 2>"$OUT/runs/$run.time" || rc=$?
    t1=$(date +%s.%N); c1=$(pids_ticks "${pids[@]}"); b1=$(busy_ticks); k1=$(kernel_ticks)
    local rss
    rss="$(rss_mib "${pids[@]}")"
    "$script" stop --save-logs "$OUT/logs/$run" >/dev/null 2>&1 || true
    up=""
    if ((rc != 0)); then
      say "  $sys bench exited $rc; stderr:"; tail -n 5 "$OUT/runs/$run.err" >&2 || true
    fi
    json="$(tail -n 1 "$OUT/runs/$run.out")"
    [[ "$json" == "{"*"}" ]] || json='{}'
    local client_s server_cores busy_cores client_cores kernel_cores other_cores dirty
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
    client_s=$(awk '{print $1 + $2; exit}' "$OUT/runs/$run.time" 2>/dev/null || true); client_s=${client_s:-0}
    server_cores=$(awk -v a="$c0" -v b="$c1" -v w="$wall" 'BEGIN{printf "%.3f", (b-a)/100/w}')
    busy_cores=$(awk -v a="$b0" -v b="$b1" -v w="$wall" 'BEGIN{printf "%.3f", (b-a)/100/w}')
    kernel_cores=$(awk -v a="$k0" -v b="$k1" -v w="$wall" 'BEGIN{printf "%.3f", (b-a)/100/w}')
    client_cores=$(awk -v c="$client_s" -v w="$wall" 'BEGIN{printf "%.3f", c/w}')
    # Foreign load: machine busy time less the servers', the bench's and the kernel threads'
    # (the journal's and the network's work for the workload).
    other_cores=$(awk -v b="$busy_cores" -v s="$server_cores" -v c="$client_cores" -v k="$kernel_cores" \
      'BEGIN{v=b-s-c-k; printf "%.3f", (v < 0 ? 0 : v)}')
    dirty=$(awk -v c="$other_cores" -v m="$FOREIGN_MAX_CORES" 'BEGIN{print (c > m) ? "true" : "false"}')
    local line
    line="{\"system\":\"$sys\",\"scenario\":\"$s\",\"attempt\":$attempt,\"members\":$members,\"exit\":$rc,\"total\":$total,\"qps\":$(jnum "$json" qps | grep . || echo 0),\"p50_ms\":$(jnum "$json" p50_ms | grep . || echo 0),\"p99_ms\":$(jnum "$json" p99_ms | grep . || echo 0),\"ok\":$(jnum "$json" ok | grep . || echo 0),\"errors\":$(jnum "$json" errors | grep . || echo 0),\"rss_mib\":\"$rss\",\"wall_s\":$wall,\"server_cores\":$server_cores,\"client_cores\":$client_cores,\"busy_cores\":$busy_cores,\"kernel_cores\":$kernel_cores,\"other_cores\":$other_cores,\"idle_busy_cores_before\":$idle,\"quiet_wait_s\":$waited,\"contaminated\":$dirty}"
    say "  $(awk -v q="$(jnum "$json" qps)" 'BEGIN{printf "%.0f", q}') req/s, p50 $(jnum "$json" p50_ms) ms, p99 $(jnum "$json" p99_ms) ms, RSS MiB $rss, other load ${other_cores} cores"
    if [[ "$dirty" == true && $attempt -lt $MAX_ATTEMPTS ]]; then
      say "  foreign load ${other_cores} cores during the run (> $FOREIGN_MAX_CORES): discarded, repeating"
      echo "$line" >>"$OUT/results-discarded.jsonl"
      sleep 5
      continue
    fi
    echo "$line" >>"$OUT/results.jsonl"
    break
  done
}

for s in "${SCENARIOS[@]}"; do
  for sys in $SYSTEMS; do
    run_one "$sys" "$s"
  done
done

# --- the table ----------------------------------------------------------------------------------
field() { # system scenario field -> value from the kept run
  local l
  l="$(grep -F "\"system\":\"$1\",\"scenario\":\"$2\"," "$OUT/results.jsonl" | tail -n 1 || true)"
  [[ -n "$l" ]] || { echo ""; return; }
  if [[ "$3" == rss_mib ]]; then
    grep -o '"rss_mib":"[^"]*"' <<<"$l" | cut -d'"' -f4
  elif [[ "$3" == contaminated ]]; then
    grep -o '"contaminated":[a-z]*' <<<"$l" | cut -d: -f2
  else
    jnum "$l" "$3"
  fi
}
{
  totals="totals x$SCALE of the anchors' (m: always 1,000,000)"
  [[ "${BENCH_ETCD_RUNNER:-0}" == 1 ]] && totals="etcq totals x$SCALE of the anchors', etcd through run-etcd-bench.sh at its own"
  echo "etcq vs etcd $(etcd --version 2>/dev/null | awk '/etcd Version/{print $3}'), $(nproc) CPUs, mutual TLS, 8-byte keys, 256-byte values; $totals"
  echo
  echo "| shape | etcd req/s | etcq req/s | ratio | etcd p50/p99 ms | etcq p50/p99 ms | etcd RSS MiB | etcq RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for s in "${SCENARIOS[@]}"; do
    dq=$(field etcd "$s" qps); qq=$(field etcq "$s" qps)
    ratio="n/a"
    if [[ -n "$dq" && -n "$qq" ]] && awk -v d="$dq" 'BEGIN{exit !(d > 0)}'; then
      ratio=$(awk -v d="$dq" -v q="$qq" 'BEGIN{printf "%.2fx", q/d}')
    fi
    fmtq() { [[ -n "$1" ]] && printf '%.0f' "$1" || printf 'n/a'; }
    fmtl() { [[ -n "$1" ]] && printf '%.2f / %.2f' "$1" "$2" || printf 'n/a'; }
    flag() { [[ "$(field "$1" "$2" contaminated)" == true ]] && printf ' (noisy)' || true; }
    echo "| $(label "$s") | $(fmtq "$dq")$(flag etcd "$s") | $(fmtq "$qq")$(flag etcq "$s") | $ratio |" \
      "$(fmtl "$(field etcd "$s" p50_ms)" "$(field etcd "$s" p99_ms)") |" \
      "$(fmtl "$(field etcq "$s" p50_ms)" "$(field etcq "$s" p99_ms)") |" \
      "$(field etcd "$s" rss_mib | grep . || echo n/a) | $(field etcq "$s" rss_mib | grep . || echo n/a) |"
  done
  echo
  echo "CPU during each run (cores of $(nproc); servers summed over members; other = everything else):"
  echo
  echo "| shape | etcd servers | etcq servers | etcd bench client | etcq bench client | other (etcd run) | other (etcq run) |"
  echo "|---|---|---|---|---|---|---|"
  for s in "${SCENARIOS[@]}"; do
    echo "| $(label "$s") | $(field etcd "$s" server_cores | grep . || echo n/a) | $(field etcq "$s" server_cores | grep . || echo n/a) |" \
      "$(field etcd "$s" client_cores | grep . || echo n/a) | $(field etcq "$s" client_cores | grep . || echo n/a) |" \
      "$(field etcd "$s" other_cores | grep . || echo n/a) | $(field etcq "$s" other_cores | grep . || echo n/a) |"
  done
  echo
  echo "RSS: VmRSS of each member right after its run. ratio = etcq/etcd req/s. (noisy): other processes"
  echo "used more than $FOREIGN_MAX_CORES cores during the run, after $MAX_ATTEMPTS attempts. Raw: $OUT/results.jsonl"
} | tee "$OUT/table.md"
