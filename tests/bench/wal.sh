#!/usr/bin/env bash
# How large the SQLite WAL grows under sustained write load, and what it shrinks to when the
# load stops (see README.md in this folder, "WAL size").
#
#   bash tests/bench/wal.sh BUILD_DIR
#   DAEMON=/path/to/other/issuerhookd bash tests/bench/wal.sh BUILD_DIR   (compare two builds)
#
# The daemon runs on a fresh temporary database with wrk -t2 -c64 POSTing distinct events for
# DURATION seconds; the size of the -wal file is sampled every 50 ms during the load and for
# IDLE seconds after it. Prints the peak, the mean, the size when the load stops and the size
# after the idle period, with the commit figures from /metrics. Not part of CTest.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then echo "usage: $0 BUILD_DIR" >&2; exit 2; fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DAEMON=${DAEMON:-$BUILD/issuerhookd}
DURATION=${DURATION:-20}
IDLE=${IDLE:-5}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
for v in DURATION IDLE WRK_THREADS WRK_CONNECTIONS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "wal: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done

log() { printf 'wal: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
for tool in wrk curl sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (IH_BENCH=1 bash .ci/deps.sh)"
done
[ -x "$DAEMON" ] || die "$DAEMON not built (make build)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ih-wal.XXXXXX")
PIDS=()
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

KEY="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
DB=$TMP/db/bench.db
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ISSUERHOOK_' || true)
started=0
for _ in 1 2 3 4 5; do
  port=$(pick_port) || die "no free port on 127.0.0.1"
  rm -rf "$TMP/db"
  ISSUERHOOK_LISTEN="127.0.0.1:$port" ISSUERHOOK_DB="$DB" ISSUERHOOK_LOG_LEVEL=warn ISSUERHOOK_RATE_LIMIT=0 \
    ISSUERHOOK_API_KEY_BENCH="sha256:$KEY_SHA amiko:events" "$DAEMON" >"$TMP/daemon.log" 2>&1 &
  dpid=$!
  PIDS+=("$dpid")
  if wait_ready "$dpid" "http://127.0.0.1:$port/health"; then started=1; break; fi
  stop "$dpid" 5
done
[ "$started" = 1 ] || die "issuerhookd did not start: $(tail -n 20 "$TMP/daemon.log")"

# sample SECONDS OUTFILE: the -wal file's size in bytes every 50 ms (0 when it does not exist).
sample() {
  local end=$((SECONDS + $1))
  while [ "$SECONDS" -lt "$end" ]; do
    stat -c %s "$DB-wal" 2>/dev/null || echo 0
    sleep 0.05
  done >"$2"
}

log "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s POST /events ($DAEMON)"
sample "$DURATION" "$TMP/load.txt" &
spid=$!
PIDS+=("$spid")
wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$HERE/events.lua" \
  "http://127.0.0.1:$port/events" -- "$KEY" >"$TMP/wrk.txt" 2>&1 || die "wrk failed: $(tail -n 5 "$TMP/wrk.txt")"
wait "$spid" || true
forget "$spid"
at_stop=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
sample "$IDLE" "$TMP/idle.txt"
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics")
stop "$dpid" 30

mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
peak=$(sort -n "$TMP/load.txt" | tail -n 1)
mean=$(awk '{s += $1; n++} END {printf "%d", n ? s / n : 0}' "$TMP/load.txt")
idle_end=$(tail -n 1 "$TMP/idle.txt")
batches=$(sed -n 's/^issuerhook_commit_batch_size_count //p' <<<"$metrics")
jobs=$(sed -n 's/^issuerhook_commit_batch_size_sum //p' <<<"$metrics")
secs=$(sed -n 's/^issuerhook_commit_seconds_total //p' <<<"$metrics")
printf '%-26s %s\n' "daemon" "$DAEMON"
printf '%-26s %s\n' "load" "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s: $(kv "$TMP/wrk.txt" ok_2xx) 2xx, $(kv "$TMP/wrk.txt" non_2xx) other, $(kv "$TMP/wrk.txt" rps) req/s, p99 $(kv "$TMP/wrk.txt" p99_ms) ms"
printf '%-26s %s\n' "WAL peak during load" "$(mib "$peak")"
printf '%-26s %s\n' "WAL mean during load" "$(mib "$mean")"
printf '%-26s %s\n' "WAL when the load stops" "$(mib "$at_stop")"
printf '%-26s %s\n' "WAL after ${IDLE}s idle" "$(mib "$idle_end")"
awk -v b="$batches" -v j="$jobs" -v s="$secs" 'BEGIN {
  if (b > 0) printf "%-26s %d batches, %.1f jobs each, %.2f ms each\n", "commits", b, j / b, 1000 * s / b }'
ckpt=$(sed -n 's/^issuerhook_wal_checkpoints_total{mode="\([a-z]*\)"} /\1 /p' <<<"$metrics" | paste -sd, - | sed 's/,/, /g')
printf '%-26s %s\n' "checkpoints" "${ckpt:-none reported}"
printf '%-26s %s\n' "daemon exit" "status $STOP_RC"
