#!/usr/bin/env bash
# The PostgreSQL mode of the load benchmark (bash tests/bench/run.sh --postgresql BUILD_DIR;
# see README.md in this folder). One run, the same wrk load (POST /events, distinct events)
# on three targets, one after the other:
#   sqlite      one node on a fresh SQLite file
#   pg-1        one node on a fresh PostgreSQL database
#   pg-2        two nodes on one fresh PostgreSQL database, each loaded by its own wrk with
#               half the threads and connections (as a load balancer would split them)
# PostgreSQL is a throwaway cluster on this machine (tests/kit's `ihpgtmp run`: fsync and
# synchronous_commit on), so it shares the cores with the daemons and wrk.
# For each target: req/s, p99, the daemons' CPU per request (/proc/PID/stat over the load),
# the PostgreSQL server's CPU per request (the postmaster and its children), round trips per
# batch and mean batch size (the daemons' /metrics), and rows stored against 2xx answers
# (fewer rows than acknowledged events fails the run).
#
# Knobs: DURATION [10], WRK_THREADS [2], WRK_CONNECTIONS [64], WRK_TIMEOUT [10],
# SERVER_THREADS [4] as for run.sh; BENCH_ROUNDS [1] rounds of the three targets,
# interleaved, compared by their medians; BENCH_PERF=1 also records where the CPU goes
# during pg-1 (perf record of the daemon and of the whole machine, the top entries into
# BUILD_DIR/bench-pg-perf.txt). Results: stdout and BUILD_DIR/bench-pg-summary.txt.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ -d "$1" ] || { echo "bench: no build directory '$1' (run: make build)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PGTMP=$BUILD/tests/kit/ihpgtmp

log() { printf 'bench-pg: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# A throwaway cluster for the whole run: this script again, under ihpgtmp.
if [ -z "${IH_PG_CONNINFO:-}" ]; then
  [ -x "$PGTMP" ] || die "$PGTMP not built (make build)"
  exec "$PGTMP" run bash "${BASH_SOURCE[0]}" "$BUILD"
fi

DURATION=${DURATION:-10}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
SERVER_THREADS=${SERVER_THREADS:-4}
BENCH_ROUNDS=${BENCH_ROUNDS:-1}
for v in DURATION WRK_THREADS WRK_CONNECTIONS WRK_TIMEOUT SERVER_THREADS BENCH_ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
DAEMON=$BUILD/issuerhookd
SCRIPT=$HERE/events.lua
SUMMARY=$BUILD/bench-pg-summary.txt
for tool in wrk curl sqlite3 psql sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (IH_BENCH=1 bash .ci/deps.sh)"
done
[ -x "$DAEMON" ] || die "$DAEMON not built (make build)"
[ "${BENCH_PERF:-0}" != 1 ] || command -v perf >/dev/null 2>&1 || die "BENCH_PERF=1 needs perf (Debian: linux-perf)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ih-bench-pg.XXXXXX")
PIDS=()
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ISSUERHOOK_' || true)

PGPASSWORD=$(head -n 1 "$IH_PG_PASSWORD_FILE")
export PGPASSWORD
sql() { psql "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"; }
conninfo_of() { echo "${IH_PG_CONNINFO% dbname=*} dbname=$1"; } # ihpgtmp puts dbname last
PGDATA_DIR=$(sql "$IH_PG_CONNINFO" "SHOW data_directory")
POSTMASTER=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
log "PostgreSQL $(sql "$IH_PG_CONNINFO" "SHOW server_version"), postmaster $POSTMASTER, $PGDATA_DIR"

KEY="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
head -c 32 /dev/urandom >"$TMP/pan.key"
chmod 0600 "$TMP/pan.key"
HZ=$(getconf CLK_TCK)

# cpu_ticks PID: utime+stime of a process (0 when gone).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }
# server_ticks: the PostgreSQL server's CPU so far: the postmaster with its reaped children,
# and every child alive.
server_ticks() {
  local total kids p
  total=$(sed 's/^.*) //' "/proc/$POSTMASTER/stat" | awk '{print $12 + $13 + $14 + $15}')
  kids=$(awk -v pp="$POSTMASTER" '{sub(/^.*\) /, ""); if ($2 == pp) print FILENAME}' /proc/[0-9]*/stat 2>/dev/null |
    cut -d/ -f3 || true)
  for p in $kids; do total=$((total + $(cpu_ticks "$p"))); done
  echo "$total"
}

# children_ticks VAR: CPU of this shell's reaped children so far (wrk, once waited for), in
# ticks, into VAR (`times` in this shell: a $(...) subshell has no children of its own).
children_ticks() {
  times >"$TMP/times"
  printf -v "$1" '%s' "$(sed -n 2p "$TMP/times" | sed 's/m/ /g; s/s//g' |
    awk -v hz="$HZ" '{printf "%.0f", ($1 * 60 + $2 + $3 * 60 + $4) * hz}')"
}
# idle_ticks: "IDLE TOTAL" of the whole machine so far (/proc/stat).
idle_ticks() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print $5 + $6, t}' /proc/stat; }

# start_node NAME DB [PASSWORD_FILE]: a daemon on DB (a path or a conninfo); sets NODE_PID, NODE_PORT.
start_node() {
  local name=$1 db=$2 pwfile=${3:-} started=0
  mkdir -p "$TMP/$name"
  for _ in 1 2 3 4 5; do
    NODE_PORT=$(pick_port) || die "no free port on 127.0.0.1"
    (cd "$TMP/$name" && exec env ISSUERHOOK_LISTEN="127.0.0.1:$NODE_PORT" ISSUERHOOK_DB="$db" \
      ISSUERHOOK_DB_PASSWORD_FILE="$pwfile" ISSUERHOOK_LOG_LEVEL=warn ISSUERHOOK_THREADS="$SERVER_THREADS" \
      ISSUERHOOK_RATE_LIMIT=0 ISSUERHOOK_API_KEY_BENCH="sha256:$KEY_SHA amiko:events" \
      ISSUERHOOK_PAN_KEY_FILE="$TMP/pan.key" "$DAEMON" >>"$TMP/$name/daemon.log" 2>&1) &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    if wait_ready "$NODE_PID" "http://127.0.0.1:$NODE_PORT/health"; then started=1; break; fi
    stop "$NODE_PID" 5
  done
  [ "$started" = 1 ] || die "issuerhookd ($name) did not start: $(tail -n 20 "$TMP/$name/daemon.log")"
}

# wrk_on PORT THREADS CONNECTIONS OUT: the load, in the background (WRK_PID).
wrk_on() {
  timeout $((DURATION + WRK_TIMEOUT + 30)) wrk -t"$2" -c"$3" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" \
    --latency -s "$SCRIPT" "http://127.0.0.1:$1/events" -- "$KEY" >"$4" 2>&1 &
  WRK_PID=$!
  PIDS+=("$WRK_PID")
}

# metric PORT NAME: the sum of a metric's samples (exact name, any labels).
metric() {
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.0f", s}'
}

# run_target NAME DB... : starts one node per DB, loads them for DURATION, measures, stops.
run_target() {
  local name=$1 dbkind=$2
  shift 2
  local ports=() pids=() i=0 n=$#
  for db in "$@"; do
    if [ "$dbkind" = pg ]; then start_node "$name-$i" "$db" "$IH_PG_PASSWORD_FILE"; else start_node "$name-$i" "$db"; fi
    ports+=("$NODE_PORT")
    pids+=("$NODE_PID")
    i=$((i + 1))
  done
  local probe
  probe=$(curl -s --max-time 5 -w ' HTTP %{http_code}' -H 'Content-Type: application/json' -H "X-API-Key: $KEY" \
    -H 'tracing-id: bench-probe' --data-binary \
    '{"header":{"version":"2026.1.0","eventId":"00000000-0000-4000-8000-000000000000","generatedAt":1700000000000},"event":{"type":"case_created","cardholderId":"2bd52a45-129d-4723-9143-e1c5b5ed34e7","cardId":"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048","caseId":"0","caseType":"fraud","createdVia":"cardholder_self_service"}}' \
    "http://127.0.0.1:${ports[0]}/events" || true)
  [[ $probe == *" HTTP 200" ]] || die "$name: the probe event was not accepted: $probe"
  local t0=() s0 wpids=() perf_pids=()
  for p in "${pids[@]}"; do t0+=("$(cpu_ticks "$p")"); done
  s0=$(server_ticks)
  local c0 i0 tot0 c1 i1 tot1
  children_ticks c0
  read -r i0 tot0 < <(idle_ticks)
  local threads=$((WRK_THREADS / n)) conns=$((WRK_CONNECTIONS / n))
  [ "$threads" -ge 1 ] || threads=1
  log "$name: $n node(s), wrk -t$threads -c$conns each, ${DURATION}s"
  for ((k = 0; k < n; k++)); do
    wrk_on "${ports[$k]}" "$threads" "$conns" "$TMP/wrk-$name-$k.txt"
    wpids+=("$WRK_PID")
  done
  if [ "${BENCH_PERF:-0}" = 1 ] && [ "$name" = pg-1 ] && [ ! -f "$TMP/perf-daemon.data" ]; then
    perf record -q -g -o "$TMP/perf-daemon.data" -p "${pids[0]}" -- sleep $((DURATION - 2)) >/dev/null 2>&1 &
    perf_pids+=($!)
    perf record -q -g -o "$TMP/perf-server.data" -a -- sleep $((DURATION - 2)) >/dev/null 2>&1 &
    perf_pids+=($!)
  fi
  local rc=0
  for w in "${wpids[@]}"; do wait "$w" || rc=$?; forget "$w"; done
  [ "$rc" -eq 0 ] || die "$name: wrk failed (status $rc)"
  children_ticks c1
  read -r i1 tot1 < <(idle_ticks)
  for p in "${perf_pids[@]}"; do wait "$p" || true; done
  local ticks=0 s1
  for ((k = 0; k < n; k++)); do
    alive "${pids[$k]}" || die "$name: a daemon died under the load: $(tail -n 20 "$TMP/$name-$k/daemon.log")"
    ticks=$((ticks + $(cpu_ticks "${pids[$k]}") - ${t0[$k]}))
  done
  s1=$(server_ticks)
  local rt=0 batches=0 jobs=0
  for p in "${ports[@]}"; do
    rt=$((rt + $(metric "$p" issuerhook_store_round_trips_total)))
    batches=$((batches + $(metric "$p" issuerhook_commit_batch_size_count)))
    jobs=$((jobs + $(metric "$p" issuerhook_commit_batch_size_sum)))
  done
  for ((k = 0; k < n; k++)); do stop "${pids[$k]}" 30; [ "$STOP_RC" -eq 0 ] || die "$name: a daemon exited $STOP_RC"; done
  # the wrk outputs together: requests and 2xx add up; req/s adds up; p99: the worse of them
  local req=0 ok=0 bad=0 rps=0 p99=0 p50=0 f
  for ((k = 0; k < n; k++)); do
    f=$TMP/wrk-$name-$k.txt
    req=$((req + $(kv "$f" requests)))
    ok=$((ok + $(kv "$f" ok_2xx)))
    bad=$((bad + $(kv "$f" non_2xx)))
    rps=$(awk -v a="$rps" -v b="$(kv "$f" rps)" 'BEGIN {printf "%.1f", a + b}')
    p99=$(awk -v a="$p99" -v b="$(kv "$f" p99_ms)" 'BEGIN {printf "%.2f", (b > a) ? b : a}')
    p50=$(awk -v a="$p50" -v b="$(kv "$f" p50_ms)" 'BEGIN {printf "%.2f", (b > a) ? b : a}')
    cp "$f" "$BUILD/bench-pg-wrk-$name-$k.txt"
  done
  local rows
  if [ "$dbkind" = pg ]; then
    rows=$(sql "$1" "SELECT count(*) FROM records")
  else
    rows=$(sqlite3 "$1" 'SELECT count(*) FROM records;')
  fi
  rows=$((rows - 1)) # the probe
  [ "$rows" -ge "$ok" ] || die "$name: durability: $rows rows stored but $ok events acknowledged"
  local us_req srv_req rtb mb wrk_req idle
  wrk_req=$(awk -v t="$((c1 - c0))" -v hz="$HZ" -v r="$req" 'BEGIN {printf "%.0f", r ? t * 1e6 / hz / r : 0}')
  idle=$(awk -v i="$((i1 - i0))" -v t="$((tot1 - tot0))" 'BEGIN {printf "%.0f", t ? 100 * i / t : 0}')
  us_req=$(awk -v t="$ticks" -v hz="$HZ" -v r="$req" 'BEGIN {printf "%.0f", r ? t * 1e6 / hz / r : 0}')
  srv_req=$(awk -v t="$((s1 - s0))" -v hz="$HZ" -v r="$req" 'BEGIN {printf "%.0f", r ? t * 1e6 / hz / r : 0}')
  [ "$dbkind" = pg ] || srv_req="-"
  rtb=$(awk -v a="$rt" -v b="$batches" 'BEGIN {printf "%.2f", b ? a / b : 0}')
  mb=$(awk -v a="$jobs" -v b="$batches" 'BEGIN {printf "%.1f", b ? a / b : 0}')
  local label=$name
  [ "$BENCH_ROUNDS" -eq 1 ] || label="$name/$round"
  printf '%-8s %5s %9s %7s %7s %9s %9s %6s %6s %8s %6s %8s %5s\n' "$label" "$n" "$rps" "$p50" "$p99" "$us_req" \
    "$srv_req" "$wrk_req" "$idle" "$rtb" "$mb" "$ok" "$((rows - ok))" >>"$TMP/table.txt"
  [ "$bad" -eq 0 ] || echo "warning: $name: $bad non-2xx answers" >>"$TMP/notes.txt"
  RPS[$name]="${RPS[$name]:-} $rps"
}

# median VALUES...: the middle one (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A RPS
printf '%-8s %5s %9s %7s %7s %9s %9s %6s %6s %8s %6s %8s %5s\n' target nodes "req/s" "p50 ms" "p99 ms" \
  "daemon µs" "server µs" "wrk µs" "idle %" "rtrips/b" "batch" "2xx" "extra" >"$TMP/table.txt"
: >"$TMP/notes.txt"
# BENCH_ROUNDS rounds of the three, interleaved (a shared machine's noise falls on each
# alike), each on fresh databases; the ratios compare the medians.
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
  for db in "bench1_$round" "bench2_$round"; do sql "$IH_PG_CONNINFO" "CREATE DATABASE $db" >/dev/null; done
  run_target sqlite sqlite "$TMP/db-$round/bench.db"
  run_target pg-1 pg "$(conninfo_of "bench1_$round")"
  run_target pg-2 pg "$(conninfo_of "bench2_$round")" "$(conninfo_of "bench2_$round")"
done
declare -A MED
for t in sqlite pg-1 pg-2; do
  # shellcheck disable=SC2086 # the rounds' figures, one word each
  MED[$t]=$(median ${RPS[$t]})
done

# perf_top DATA ARGS...: perf report's flat list (no call graphs), the top lines.
perf_top() {
  local data=$1
  shift
  { perf report -i "$data" --stdio --no-children -g none --percentage relative --percent-limit 0.7 "$@" \
    2>/dev/null || true; } |
    grep -v '^#' | grep -v '^$' | head -n 40 || true
}
if [ "${BENCH_PERF:-0}" = 1 ]; then
  {
    echo "== issuerhookd (pg-1), by shared object and symbol"
    perf_top "$TMP/perf-daemon.data" --sort dso,symbol
    echo "== the whole machine during pg-1, by command"
    perf_top "$TMP/perf-server.data" --sort comm
    echo "== postgres during pg-1, by shared object and symbol"
    perf_top "$TMP/perf-server.data" --comms postgres --sort dso,symbol
  } >"$BUILD/bench-pg-perf.txt"
fi

rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || rev="$rev+dirty"
half=$(awk -v a="${MED[pg-1]}" -v b="${MED[sqlite]}" 'BEGIN {printf "%.0f", (b > 0) ? 100 * a / b : 0}')
two=$(awk -v a="${MED[pg-2]}" -v b="${MED[pg-1]}" 'BEGIN {printf "%.0f", (b > 0) ? 100 * a / b : 0}')
{
  echo "issuerhookd load benchmark, PostgreSQL mode  ($(date -u +%Y-%m-%dT%H:%M:%SZ), rev $rev, $(nproc) CPUs)"
  echo "load: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s in all (split over the nodes), POST /events, distinct eventIds; server thread pool $SERVER_THREADS; loopback; PostgreSQL $(sql "$IH_PG_CONNINFO" "SHOW server_version") on the same machine (fsync on, synchronous_commit $(sql "$IH_PG_CONNINFO" "SHOW synchronous_commit"))"
  echo "daemon µs / server µs / wrk µs: CPU per request of the issuerhookd processes / the PostgreSQL server / wrk; idle %: the machine's idle CPU during the load; rtrips/b: round trips per batch; batch: mean jobs per batch; extra: rows beyond the 2xx answers (in flight when wrk stopped)"
  echo
  cat "$TMP/table.txt"
  echo
  echo "median req/s of $BENCH_ROUNDS round(s): sqlite ${MED[sqlite]}, pg-1 ${MED[pg-1]}, pg-2 ${MED[pg-2]}"
  echo "one node on PostgreSQL / on SQLite: $half % of the req/s (aim: at least 50 %)"
  echo "two nodes / one node on PostgreSQL: $two % of the req/s (aim: more than 100 %)"
  cat "$TMP/notes.txt"
  echo "result: ok"
} | tee "$SUMMARY"
log "summary written to $SUMMARY (wrk outputs: $BUILD/bench-pg-wrk-*.txt)"
