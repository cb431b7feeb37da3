#!/usr/bin/env bash
# Load benchmark for issuerhookd (run by `make bench`; see tests/bench/README.md).
#
#   bash tests/bench/run.sh BUILD_DIR
#   bash tests/bench/run.sh --postgresql BUILD_DIR   (pg.sh: SQLite, PostgreSQL, two nodes)
#
# 1. ceiling: a bare libmicrohttpd server (BUILD_DIR/tests/bench/ih_bench_ceiling) with the
#    daemon's threading configuration, loaded with wrk + events.lua;
# 2. floor: the ceiling plus suspend/resume and a group-committed durable INSERT of each body
#    (BUILD_DIR/tests/bench/ih_bench_floor), the same wrk load, then the card-activity load with
#    each body stored as CARD_ITEMS rows: the least any durable server costs here;
# 3. daemon: BUILD_DIR/issuerhookd on a fresh temporary database, same wrk load, then
#    CARD_DURATION seconds of card-activity batches of CARD_ITEMS items (cards.lua); peak RSS
#    is sampled after each, then the rows in `records` are counted against the 2xx answers
#    wrk saw (fewer rows than acknowledged events or items fails the run).
# CPU time per request is read from /proc/PID/stat just before and after each load; the mean
# commit batch from the daemon's /metrics before and after.
#
# Environment knobs (defaults in brackets):
#   DURATION [10]          seconds of load per target
#   WRK_THREADS [2]        wrk threads
#   WRK_CONNECTIONS [64]   wrk connections
#   WRK_TIMEOUT [10]       seconds after which wrk counts a request as timed out
#   SERVER_THREADS [4]     libmicrohttpd thread pool of both servers (ISSUERHOOK_THREADS)
#   CARD_DURATION [DURATION] seconds of card-activity load (0: none)
#   CARD_CONNECTIONS [4]   wrk connections for it (one wrk thread)
#   CARD_ITEMS [1000]      items per card-activity batch (1 to 1000)
#   CARD_PANS [1]          distinct card numbers the items draw from (cards.lua)
#   CARD_OCCURRED [rising] same: every item with the seed's one occurredAt (cards.lua)
#   LOG_LEVEL [info]       the daemon's ISSUERHOOK_LOG_LEVEL (info: a line per request, as by default)
# Everything listens on 127.0.0.1 only. Results: stdout and BUILD_DIR/bench-summary.txt.
set -euo pipefail

usage() { echo "usage: $0 [--postgresql] BUILD_DIR" >&2; exit 2; }
if [ $# -eq 2 ] && [ "$1" = --postgresql ]; then
  # the PostgreSQL mode: one node on SQLite, one on PostgreSQL, two on one PostgreSQL database
  exec bash "$(dirname "${BASH_SOURCE[0]}")/pg.sh" "$2"
fi
[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "bench: no build directory '$1' (run: make build)" >&2; exit 2; }

BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DURATION=${DURATION:-10}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
SERVER_THREADS=${SERVER_THREADS:-4}
CARD_DURATION=${CARD_DURATION:-$DURATION}
CARD_CONNECTIONS=${CARD_CONNECTIONS:-4}
CARD_ITEMS=${CARD_ITEMS:-1000}
LOG_LEVEL=${LOG_LEVEL:-info}
for v in DURATION WRK_THREADS WRK_CONNECTIONS WRK_TIMEOUT SERVER_THREADS CARD_CONNECTIONS CARD_ITEMS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
[[ $CARD_DURATION =~ ^[0-9]+$ ]] || { echo "bench: CARD_DURATION must be a number of seconds" >&2; exit 2; }
[ "$CARD_ITEMS" -le 1000 ] || { echo "bench: CARD_ITEMS must be at most 1000" >&2; exit 2; }
[[ $LOG_LEVEL =~ ^(debug|info|warn|error)$ ]] || { echo "bench: LOG_LEVEL must be debug, info, warn or error" >&2; exit 2; }

DAEMON=$BUILD/issuerhookd
CEILING=$BUILD/tests/bench/ih_bench_ceiling
FLOOR=$BUILD/tests/bench/ih_bench_floor
SCRIPT=$HERE/events.lua
CARDS=$HERE/cards.lua
SUMMARY=$BUILD/bench-summary.txt

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  log "wrk is missing; installing it through .ci/deps.sh"
  IH_BENCH=1 bash "$ROOT/.ci/deps.sh"
fi
for tool in wrk curl sqlite3 sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (bash .ci/deps.sh)"
done
[ -x "$DAEMON" ] || die "$DAEMON not built (make build)"

# --- process bookkeeping -------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ih-bench.XXXXXX")
PIDS=()

# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

run_wrk() { # run_wrk PORT OUTFILE KEY [PATH SCRIPT THREADS CONNECTIONS SECONDS EXTRA_ARG]
  local url="http://127.0.0.1:$1${4:-/events}" script=${5:-$SCRIPT} t=${6:-$WRK_THREADS} c=${7:-$WRK_CONNECTIONS}
  local d=${8:-$DURATION}
  log "wrk -t$t -c$c -d${d}s --timeout ${WRK_TIMEOUT}s --latency -s $(basename "$script") $url"
  # In the background and waited for, so that a signal to this script is handled at once.
  timeout $((d + WRK_TIMEOUT + 30)) \
    wrk -t"$t" -c"$c" -d"${d}s" --timeout "${WRK_TIMEOUT}s" --latency \
    -s "$script" "$url" -- "$3" ${9:+"$9"} >"$2" 2>&1 &
  local wpid=$! rc=0
  PIDS+=("$wpid")
  wait "$wpid" || rc=$?
  forget "$wpid"
  [ "$rc" -eq 0 ] || die "wrk failed (status $rc): $(tail -n 5 "$2")"
  [ -n "$(kv "$2" requests)" ] || die "wrk did not run events.lua's done(): $(tail -n 5 "$2")"
  [ "$(kv "$2" requests)" -gt 0 ] || die "wrk completed no request against $url"
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (/proc/PID/stat).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# us_per TICKS_BEFORE TICKS_AFTER COUNT: CPU microseconds per unit of COUNT.
us_per() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (n > 0) ? (b - a) / hz * 1e6 / n : 0}'; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# batch_stats PORT: "jobs batches" committed so far, from the daemon's /metrics.
batch_stats() {
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk '$1 == "issuerhook_commit_batch_size_sum" {s = $2} $1 == "issuerhook_commit_batch_size_count" {c = $2}
         END {print s + 0, c + 0}'
}

# bench_server NAME CMD...: starts CMD on a free port (the argument that is exactly PORT
# becomes it) until it answers; sets SRV_PID and SRV_PORT.
bench_server() {
  local name=$1 p pid ok=0 a cmd
  shift
  for _ in 1 2 3 4 5; do
    p=$(pick_port) || die "no free port on 127.0.0.1"
    cmd=()
    for a in "$@"; do if [ "$a" = PORT ]; then cmd+=("$p"); else cmd+=("$a"); fi; done
    "${cmd[@]}" 2>"$TMP/$name.log" &
    pid=$!
    PIDS+=("$pid")
    if wait_ready "$pid" "http://127.0.0.1:$p/"; then ok=1; break; fi
    stop "$pid" 2
  done
  [ "$ok" = 1 ] || die "the $name server did not start: $(cat "$TMP/$name.log")"
  SRV_PID=$pid
  SRV_PORT=$p
}

# bench_binary VAR SOURCE PKGS...: VAR names the binary CMake built; when it is missing (e.g.
# configured with -DIH_TESTS=OFF), SOURCE is compiled into the temporary directory instead.
bench_binary() {
  local var=$1 src=$2 out
  shift 2
  [ -x "${!var}" ] && return 0
  out=$TMP/$(basename "${!var}")
  log "no ${!var}; compiling $(basename "$src")"
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  "${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$out" "$src" \
    $(pkg-config --cflags --libs "$@") -pthread || die "cannot compile $src"
  printf -v "$var" %s "$out"
}

# --- (a) ceiling ---------------------------------------------------------------------------
bench_binary CEILING "$HERE/ceiling.c" libmicrohttpd
log "ceiling: $CEILING (thread pool $SERVER_THREADS)"
bench_server ceiling "$CEILING" PORT "$SERVER_THREADS"
cpid=$SRV_PID port=$SRV_PORT
c_cpu0=$(cpu_ticks "$cpid")
run_wrk "$port" "$TMP/wrk-ceiling.txt" unused
c_cpu1=$(cpu_ticks "$cpid")
c_hwm_kb=$(hwm_kb "$cpid")
stop "$cpid" 5
cp "$TMP/wrk-ceiling.txt" "$BUILD/bench-wrk-ceiling.txt"

# --- (a2) floor: suspend, one durable group-committed INSERT, resume ------------------------
bench_binary FLOOR "$HERE/floor.c" libmicrohttpd sqlite3
log "floor: $FLOOR (thread pool $SERVER_THREADS)"
mkdir -p "$TMP/floor"
bench_server floor "$FLOOR" PORT "$SERVER_THREADS" "$TMP/floor/events.db" 1
fpid=$SRV_PID port=$SRV_PORT
f_cpu0=$(cpu_ticks "$fpid")
run_wrk "$port" "$TMP/wrk-floor.txt" unused
f_cpu1=$(cpu_ticks "$fpid")
stop "$fpid" 10
[ "$STOP_RC" -eq 0 ] || die "the floor server exited with status $STOP_RC: $(tail -n 5 "$TMP/floor.log")"
f_rows=$(sqlite3 "$TMP/floor/events.db" "SELECT count(*) FROM r;") || die "cannot count the floor's rows"
fk=$TMP/wrk-floor-cards.txt
if [ "$CARD_DURATION" -gt 0 ]; then
  bench_server floor "$FLOOR" PORT "$SERVER_THREADS" "$TMP/floor/cards.db" "$CARD_ITEMS"
  fpid=$SRV_PID port=$SRV_PORT
  fk_cpu0=$(cpu_ticks "$fpid")
  run_wrk "$port" "$fk" unused /system/incomingCardActivity "$CARDS" 1 "$CARD_CONNECTIONS" "$CARD_DURATION" "$CARD_ITEMS"
  fk_cpu1=$(cpu_ticks "$fpid")
  stop "$fpid" 10
  [ "$STOP_RC" -eq 0 ] || die "the floor server exited with status $STOP_RC: $(tail -n 5 "$TMP/floor.log")"
fi
rm -rf "$TMP/floor"

# --- (b) daemon ----------------------------------------------------------------------------
KEY="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
DB=$TMP/db/bench.db
DLOG=$TMP/daemon.log
# Only the settings below apply: drop any ISSUERHOOK_* inherited from the caller.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ISSUERHOOK_' || true)

log "daemon: $DAEMON (thread pool $SERVER_THREADS, database $DB)"
started=0
for _ in 1 2 3 4 5; do
  port=$(pick_port) || die "no free port on 127.0.0.1"
  rm -rf "$TMP/db"
  ISSUERHOOK_LISTEN="127.0.0.1:$port" ISSUERHOOK_DB="$DB" ISSUERHOOK_LOG_LEVEL="$LOG_LEVEL" \
    ISSUERHOOK_THREADS="$SERVER_THREADS" ISSUERHOOK_RATE_LIMIT=0 \
    ISSUERHOOK_API_KEY_BENCH="sha256:$KEY_SHA amiko:events,cardAdapter/write" \
    ISSUERHOOK_PAN_KEY_DEVELOPMENT=true \
    "$DAEMON" >"$DLOG" 2>&1 &
  dpid=$!
  PIDS+=("$dpid")
  if wait_ready "$dpid" "http://127.0.0.1:$port/health"; then started=1; break; fi
  stop "$dpid" 5
done
[ "$started" = 1 ] || die "issuerhookd did not start: $(tail -n 20 "$DLOG")"

# One request by hand first: a wrong key or payload shows up here, not as 640k non-2xx answers.
probe=$(curl -s --max-time 5 -w ' HTTP %{http_code}' -H 'Content-Type: application/json' \
  -H "X-API-Key: $KEY" -H 'tracing-id: bench-probe' --data-binary \
  '{"header":{"version":"2026.1.0","eventId":"00000000-0000-4000-8000-000000000000","generatedAt":1700000000000},"event":{"type":"case_created","cardholderId":"2bd52a45-129d-4723-9143-e1c5b5ed34e7","cardId":"b8ba25f3-c945-4ed0-9d4d-e3153a0dd048","caseId":"0","caseType":"fraud","createdVia":"cardholder_self_service"}}' \
  "http://127.0.0.1:$port/events" || true)
[[ $probe == *" HTTP 200" ]] || die "probe event was not accepted: $probe"

read -r b_jobs0 b_n0 < <(batch_stats "$port")
d_cpu0=$(cpu_ticks "$dpid")
run_wrk "$port" "$TMP/wrk-daemon.txt" "$KEY"
d_cpu1=$(cpu_ticks "$dpid")
cp "$TMP/wrk-daemon.txt" "$BUILD/bench-wrk-daemon.txt"
alive "$dpid" || die "issuerhookd died during the load: $(tail -n 20 "$DLOG")"
hwm_events_kb=$(hwm_kb "$dpid")
read -r b_jobs1 b_n1 < <(batch_stats "$port")

# Card activity: batches of CARD_ITEMS distinct items, each item a record.
k=$TMP/wrk-cards.txt
if [ "$CARD_DURATION" -gt 0 ]; then
  sleep 0.5 # the events wrk left in flight are committed
  k_cpu0=$(cpu_ticks "$dpid")
  run_wrk "$port" "$k" "$KEY" /system/incomingCardActivity "$CARDS" 1 "$CARD_CONNECTIONS" "$CARD_DURATION" "$CARD_ITEMS"
  k_cpu1=$(cpu_ticks "$dpid")
  cp "$k" "$BUILD/bench-wrk-cards.txt"
  alive "$dpid" || die "issuerhookd died during the card-activity load: $(tail -n 20 "$DLOG")"
fi
hwm_kb=$(hwm_kb "$dpid")
stop "$dpid" 30
daemon_rc=$STOP_RC
# the lines at warn and above, and any that are not JSON (a crash); not the access lines
grep -v -E '"level":"(debug|info)"' "$DLOG" >"$BUILD/bench-daemon.log" || true

rows=$(sqlite3 "$DB" "SELECT count(*) FROM records WHERE source = 'amiko.event';") || die "cannot count rows in $DB"
rows=$((rows - 1)) # the probe event
card_rows=$(sqlite3 "$DB" "SELECT count(*) FROM records WHERE source = 'apiture.card_activity';") ||
  die "cannot count rows in $DB"

# --- summary -------------------------------------------------------------------------------
c=$TMP/wrk-ceiling.txt
d=$TMP/wrk-daemon.txt
c_rps=$(kv "$c" rps)
d_rps=$(kv "$d" rps)
ratio=$(awk -v a="$d_rps" -v b="$c_rps" 'BEGIN {printf "%.1f", (b > 0) ? 100 * a / b : 0}')
d_ok=$(kv "$d" ok_2xx)
d_bad=$(kv "$d" non_2xx)
d_req=$(kv "$d" requests)
d_errs="connect $(kv "$d" errors_connect), read $(kv "$d" errors_read), write $(kv "$d" errors_write), timeout $(kv "$d" errors_timeout)"
c_errs="connect $(kv "$c" errors_connect), read $(kv "$c" errors_read), write $(kv "$c" errors_write), timeout $(kv "$c" errors_timeout)"
c_us=$(us_per "$c_cpu0" "$c_cpu1" "$(kv "$c" requests)")
d_us=$(us_per "$d_cpu0" "$d_cpu1" "$d_req")
f=$TMP/wrk-floor.txt
f_us=$(us_per "$f_cpu0" "$f_cpu1" "$(kv "$f" requests)")
floor_ratio=$(awk -v a="$f_us" -v b="$c_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
floor_rps_ratio=$(awk -v a="$(kv "$f" rps)" -v b="$c_rps" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
over_floor=$(awk -v a="$d_us" -v b="$f_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
cpu_ratio=$(awk -v a="$d_us" -v b="$c_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
rps_ratio=$(awk -v a="$d_rps" -v b="$c_rps" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
batch_mean=$(awk -v j=$((b_jobs1 - b_jobs0)) -v n=$((b_n1 - b_n0)) 'BEGIN {printf "%.1f", (n > 0) ? j / n : 0}')
batches=$((b_n1 - b_n0))
# warn and error lines (at LOG_LEVEL info the log has a line per request besides)
log_lines=$(wc -l <"$BUILD/bench-daemon.log")
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || rev="$rev+dirty"

verdict=ok
problems=()
if [ "$f_rows" -lt "$(kv "$f" ok_2xx)" ]; then
  verdict=FAIL
  problems+=("the floor server stored $f_rows rows but acknowledged $(kv "$f" ok_2xx)")
fi
if [ "$rows" -lt "$d_ok" ]; then
  verdict=FAIL
  problems+=("durability: $rows rows stored but $d_ok events acknowledged with 2xx")
fi
if [ "$CARD_DURATION" -gt 0 ]; then
  k_ok=$(kv "$k" ok_2xx)
  k_items=$((k_ok * CARD_ITEMS))
  k_us=$(us_per "$k_cpu0" "$k_cpu1" "$k_items")
  card_ratio=$(awk -v a="$k_us" -v b="$c_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
  fk_us=$(us_per "$fk_cpu0" "$fk_cpu1" "$(($(kv "$fk" ok_2xx) * CARD_ITEMS))")
  fk_ratio=$(awk -v a="$fk_us" -v b="$c_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
  card_over_floor=$(awk -v a="$k_us" -v b="$fk_us" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
  if [ "$card_rows" -lt "$k_items" ]; then
    verdict=FAIL
    problems+=("durability: $card_rows card-activity rows stored but $k_items items acknowledged with 2xx")
  fi
  [ "$(kv "$k" non_2xx)" -eq 0 ] || problems+=("warning: $(kv "$k" non_2xx) non-2xx card-activity answers ($(kv "$k" statuses))")
fi
if [ "$daemon_rc" -ne 0 ]; then
  verdict=FAIL
  problems+=("issuerhookd exited with status $daemon_rc after SIGTERM (see $BUILD/bench-daemon.log)")
fi
[ "$d_bad" -eq 0 ] || problems+=("warning: $d_bad non-2xx answers from the daemon ($(kv "$d" statuses))")
[ "$log_lines" -eq 0 ] || problems+=("warning: $log_lines lines at warn/error in $BUILD/bench-daemon.log")

{
  echo "issuerhookd load benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), rev $rev, $(nproc) CPUs)"
  echo "load: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s, POST /events, distinct eventIds; server thread pool $SERVER_THREADS; loopback"
  echo
  printf '%-28s %s\n' "ceiling req/s" "$c_rps   (p50 $(kv "$c" p50_ms) ms, p99 $(kv "$c" p99_ms) ms)"
  printf '%-28s %s\n' "ceiling CPU per request" "$c_us us"
  printf '%-28s %s\n' "ceiling peak RSS (VmHWM)" "$(mib "$c_hwm_kb") MiB"
  printf '%-28s %s\n' "floor req/s" "$(kv "$f" rps)   ($floor_rps_ratio of the ceiling's; p50 $(kv "$f" p50_ms) ms, p99 $(kv "$f" p99_ms) ms)"
  printf '%-28s %s\n' "floor CPU per request" "$f_us us ($floor_ratio x the ceiling's: suspend, a durable one-row commit, resume)"
  [ "$CARD_DURATION" -eq 0 ] ||
    printf '%-28s %s\n' "floor CPU per card item" "$fk_us us ($fk_ratio x the ceiling's per request; each item one row)"
  printf '%-28s %s\n' "daemon req/s" "$d_rps"
  printf '%-28s %s\n' "daemon latency p50 / p99" "$(kv "$d" p50_ms) ms / $(kv "$d" p99_ms) ms   (p90 $(kv "$d" p90_ms), max $(kv "$d" max_ms))"
  printf '%-28s %s\n' "daemon CPU per request" "$d_us us"
  printf '%-28s %s\n' "daemon mean commit batch" "$batch_mean jobs ($batches commits, $WRK_CONNECTIONS connections)"
  printf '%-28s %s\n' "daemon peak RSS (VmHWM)" "$(mib "$hwm_events_kb") MiB after POST /events, $(mib "$hwm_kb") MiB at the end"
  printf '%-28s %s\n' "daemon answers" "$d_req total, $d_ok 2xx, $d_bad non-2xx ($(kv "$d" statuses))"
  printf '%-28s %s\n' "rows in records vs 2xx" "$rows rows vs $d_ok acknowledged ($((rows - d_ok)) extra)"
  if [ "$CARD_DURATION" -gt 0 ]; then
    printf '%-28s %s\n' "card batches/s" "$(kv "$k" rps)   ($CARD_ITEMS items each, -c$CARD_CONNECTIONS; p50 $(kv "$k" p50_ms) ms, p99 $(kv "$k" p99_ms) ms)"
    printf '%-28s %s\n' "card CPU per item" "$k_us us"
    printf '%-28s %s\n' "card items vs rows" "$card_rows rows vs $k_items items acknowledged ($(kv "$k" statuses))"
  fi
  printf '%-28s %s\n' "ratio req/s" "$rps_ratio of the ceiling's ($ratio %; target >= 0.35; the floor's $floor_rps_ratio)"
  printf '%-28s %s\n' "ratio CPU per request" "$cpu_ratio x the ceiling's (target <= 3; the floor's $floor_ratio), $over_floor x the floor's"
  [ "$CARD_DURATION" -eq 0 ] ||
    printf '%-28s %s\n' "ratio card CPU per item" "$card_ratio x the ceiling's per request (target <= 1; the floor's $fk_ratio), $card_over_floor x the floor's"
  printf '%-28s %s\n' "daemon exit after SIGTERM" "status $daemon_rc"
  printf '%-28s %s\n' "daemon log (warn+)" "$log_lines lines (level $LOG_LEVEL)"
  printf '%-28s %s\n' "wrk socket errors ceiling" "$c_errs"
  printf '%-28s %s\n' "wrk socket errors daemon" "$d_errs"
  for p in "${problems[@]}"; do echo "$p"; done
  echo "result: $verdict"
} | tee "$SUMMARY"
log "summary written to $SUMMARY (wrk output: $BUILD/bench-wrk-*.txt, daemon log: $BUILD/bench-daemon.log)"
bash "$HERE/feed.sh" "$BUILD" || verdict=FAIL # the feed read benchmark, appended to the same summary
[ "$verdict" = ok ] || exit 1
