#!/usr/bin/env bash
# Feed read benchmark for issuerhookd (see tests/bench/README.md, "Feed throughput").
#
#   bash tests/bench/feed.sh BUILD_DIR
#
# 1. fill: BUILD_DIR/issuerhookd on a fresh temporary database (rate limit off, one key
#    with amiko:events and bankingAdmin/read) is loaded with wrk + events.lua (distinct
#    case_created events) in chunks of a few seconds until about FEED_EVENTS events are
#    acknowledged (or FEED_FILL_MAX seconds have passed);
# 2. drain: GET /banking/recentEventHistory?limit=FEED_LIMIT from the start of the history,
#    following the watermark until hasMore is false, timed end to end; FEED_RUNS times.
#    Every drain must return every stored record exactly once, in commit order.
#    The daemon's peak RSS is reset (/proc/PID/clear_refs) after the fill, so the VmHWM
#    read after the drains is the peak while reading.
#
# Environment knobs (defaults in brackets):
#   FEED_EVENTS [100000]   events to store before reading
#   FEED_FILL_MAX [45]     at most this many seconds of filling
#   FEED_RUNS [3]          timed drains
#   FEED_LIMIT [10000]     limit= of each page (0 < FEED_LIMIT <= 10000)
#   WRK_THREADS [2]        wrk threads for the fill
#   WRK_CONNECTIONS [64]   wrk connections for the fill
#   SERVER_THREADS [4]     libmicrohttpd thread pool of the daemon (ISSUERHOOK_THREADS)
# Everything listens on 127.0.0.1 only. Results: stdout, appended to BUILD_DIR/bench-summary.txt.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -d "$1" ] || { echo "feed-bench: no build directory '$1' (run: make build)" >&2; exit 2; }

BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
FEED_EVENTS=${FEED_EVENTS:-100000}
FEED_FILL_MAX=${FEED_FILL_MAX:-45}
FEED_RUNS=${FEED_RUNS:-3}
FEED_LIMIT=${FEED_LIMIT:-10000}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
SERVER_THREADS=${SERVER_THREADS:-4}
for v in FEED_EVENTS FEED_FILL_MAX FEED_RUNS FEED_LIMIT WRK_THREADS WRK_CONNECTIONS SERVER_THREADS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "feed-bench: $v must be a positive integer (got '${!v}')" >&2; exit 2; }
done
[ "$FEED_LIMIT" -le 10000 ] || { echo "feed-bench: FEED_LIMIT must be at most 10000" >&2; exit 2; }
[ "$FEED_FILL_MAX" -le 60 ] || { echo "feed-bench: FEED_FILL_MAX must be at most 60" >&2; exit 2; }

DAEMON=$BUILD/issuerhookd
SCRIPT=$HERE/events.lua
SUMMARY=$BUILD/bench-summary.txt
DEADLINE=$((SECONDS + 85)) # the whole run, start-up and fill included, stays under 90 s

log() { printf 'feed-bench: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for tool in wrk curl sha256sum od awk timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (IH_BENCH=1 bash .ci/deps.sh)"
done
[ -x "$DAEMON" ] || die "$DAEMON not built (make build)"
[ -r "$SCRIPT" ] || die "$SCRIPT is missing"

# --- process bookkeeping -------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ih-feed-bench.XXXXXX")
PIDS=()

# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
now() { echo "${EPOCHREALTIME/,/.}"; }         # seconds, microsecond resolution
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# base36 STRING -> decimal (the watermark's number).
from_b36() {
  local s=$1 n=0 i c d digits=0123456789abcdefghijklmnopqrstuvwxyz
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    d=${digits%%"$c"*}
    n=$((n * 36 + ${#d}))
  done
  echo "$n"
}

# --- daemon --------------------------------------------------------------------------------
KEY="feed-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
DB=$TMP/db/feed.db
DLOG=$TMP/daemon.log
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ISSUERHOOK_' || true)

log "daemon: $DAEMON (thread pool $SERVER_THREADS, database $DB)"
started=0
for _ in 1 2 3 4 5; do
  port=$(pick_port) || die "no free port on 127.0.0.1"
  rm -rf "$TMP/db"
  ISSUERHOOK_LISTEN="127.0.0.1:$port" ISSUERHOOK_DB="$DB" ISSUERHOOK_LOG_LEVEL=warn \
    ISSUERHOOK_THREADS="$SERVER_THREADS" ISSUERHOOK_RATE_LIMIT=0 \
    ISSUERHOOK_API_KEY_FEEDBENCH="sha256:$KEY_SHA amiko:events,bankingAdmin/read" ISSUERHOOK_PAN_KEY_DEVELOPMENT=true \
    "$DAEMON" >"$DLOG" 2>&1 &
  dpid=$!
  PIDS+=("$dpid")
  if wait_ready "$dpid" "http://127.0.0.1:$port/health"; then started=1; break; fi
  stop "$dpid" 5
done
[ "$started" = 1 ] || die "issuerhookd did not start: $(tail -n 20 "$DLOG")"
BASE="http://127.0.0.1:$port"
startup_lines=$(wc -l <"$DLOG") # start-up warnings (a new PAN key, no callback URL) are expected

probe=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -H "X-API-Key: $KEY" \
  "$BASE/banking/recentEventHistory?limit=0" || true)
[ "$probe" = 200 ] || die "GET /banking/recentEventHistory?limit=0 answered '$probe', not 200"

# --- fill ----------------------------------------------------------------------------------
acked=0
fill_s=0
fill_end=$((SECONDS + FEED_FILL_MAX))
chunk=2
n=0
while [ "$acked" -lt "$FEED_EVENTS" ] && [ "$SECONDS" -lt "$fill_end" ]; do
  n=$((n + 1))
  left=$((fill_end - SECONDS))
  [ "$chunk" -le "$left" ] || chunk=$left
  [ "$chunk" -ge 1 ] || break
  out=$TMP/wrk-fill-$n.txt
  timeout $((chunk + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${chunk}s" --timeout 10s \
    -s "$SCRIPT" "$BASE/events" -- "$KEY" >"$out" 2>&1 &
  wpid=$!
  PIDS+=("$wpid")
  rc=0
  wait "$wpid" || rc=$?
  forget "$wpid"
  [ "$rc" -eq 0 ] || die "wrk failed (status $rc): $(tail -n 5 "$out")"
  ok=$(kv "$out" ok_2xx)
  [[ $ok =~ ^[1-9][0-9]*$ ]] || die "the fill stored nothing: $(kv "$out" statuses) $(tail -n 3 "$out")"
  [ "$(kv "$out" non_2xx)" -eq 0 ] || die "the fill got non-2xx answers: $(kv "$out" statuses)"
  acked=$((acked + ok))
  fill_s=$(awk -v a="$fill_s" -v b="$(kv "$out" duration_s)" 'BEGIN {printf "%.3f", a + b}')
  # next chunk: what is left at this chunk's rate, plus a second
  chunk=$(awk -v left=$((FEED_EVENTS - acked)) -v rps="$(kv "$out" rps)" \
    'BEGIN {c = (rps > 0) ? int(left / rps) + 1 : 2; print (c < 1) ? 1 : c}')
  log "fill: $acked events acknowledged"
done
[ "$acked" -ge "$FEED_EVENTS" ] || log "warning: only $acked of $FEED_EVENTS events in ${FEED_FILL_MAX}s; reading those"
alive "$dpid" || die "issuerhookd died during the fill: $(tail -n 20 "$DLOG")"
fill_rps=$(awk -v n="$acked" -v s="$fill_s" 'BEGIN {printf "%.0f", (s > 0) ? n / s : 0}')
sleep 0.5 # the requests wrk left in flight are committed

# Peak RSS so far (the fill), then reset it: what is read after the drains is their own peak.
hwm_fill_kb=$(status_kb "$dpid" VmHWM)
rss_before_kb=$(status_kb "$dpid" VmRSS)
hwm_reset=no
if echo 5 >"/proc/$dpid/clear_refs" 2>/dev/null; then hwm_reset=yes; fi

# --- drains --------------------------------------------------------------------------------
# drain N: follows the watermark from the start; sets D_ITEMS D_PAGES D_SECS D_BYTES D_WM
# D_ORDER (ok when every page's ids continue the previous page's, one by one).
drain() {
  local run=$1 wm="" more=true pages=0 t0 t1 body hdr code tail_ page_ids first last n p expect=1
  local max_pages=$(((acked + 1000) / FEED_LIMIT + 50))
  D_ITEMS=0 D_BYTES=0 D_ORDER=ok
  t0=$(now)
  while [ "$more" = true ]; do
    [ "$pages" -lt "$max_pages" ] || die "drain $run: more than $max_pages pages; hasMore never became false"
    [ "$SECONDS" -lt "$DEADLINE" ] || die "drain $run: out of time (the run must stay under 90 s)"
    body=$TMP/run$run-page$((pages + 1)).json
    hdr=$(curl -s --max-time 30 -o "$body" -w '%{http_code} %{size_download}' -H "X-API-Key: $KEY" \
      "$BASE/banking/recentEventHistory?limit=$FEED_LIMIT&watermark=$wm") || die "drain $run: curl failed"
    code=${hdr%% *}
    [ "$code" = 200 ] || die "drain $run: page $((pages + 1)) answered $code: $(head -c 300 "$body")"
    pages=$((pages + 1))
    D_BYTES=$((D_BYTES + ${hdr#* }))
    # the body ends with ...],"watermark":"w1.…","hasMore":…}: read only its tail
    tail_=$(tail -c 120 "$body")
    [[ $tail_ =~ \"watermark\":\"(w1\.[0-9a-z]+)\",\"hasMore\":(true|false)\}$ ]] ||
      die "drain $run: page $pages does not end with watermark and hasMore: $tail_"
    wm=${BASH_REMATCH[1]}
    more=${BASH_REMATCH[2]}
  done
  t1=$(now)
  D_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
  D_PAGES=$pages
  D_WM=$wm
  # outside the timing: count the items and check they are evt-000001, evt-000002, ... in order
  for ((p = 1; p <= pages; p++)); do
    page_ids=$(grep -o '"id":"evt-[0-9]*"' "$TMP/run$run-page$p.json" | sed 's/.*evt-0*//; s/"$//' || true)
    if [ -n "$page_ids" ]; then
      first=$(head -n 1 <<<"$page_ids")
      last=$(tail -n 1 <<<"$page_ids")
      n=$(wc -l <<<"$page_ids")
      if [ "$first" -ne "$expect" ] || [ $((last - first + 1)) -ne "$n" ]; then
        D_ORDER="not contiguous at page $p"
      fi
      D_ITEMS=$((D_ITEMS + n))
      expect=$((last + 1))
    fi
    rm -f "$TMP/run$run-page$p.json"
  done
}

declare -a RATES=() SECS=() RUNLINES=()
problems=()
verdict=ok
for ((r = 1; r <= FEED_RUNS; r++)); do
  drain "$r"
  rate=$(awk -v n="$D_ITEMS" -v s="$D_SECS" 'BEGIN {printf "%.0f", (s > 0) ? n / s : 0}')
  RATES+=("$rate")
  SECS+=("$D_SECS")
  mib_s=$(awk -v b="$D_BYTES" -v s="$D_SECS" 'BEGIN {printf "%.1f", (s > 0) ? b / s / 1048576 : 0}')
  log "drain $r: $D_ITEMS items in $D_PAGES pages, ${D_SECS}s, $rate items/s, $mib_s MiB/s"
  RUNLINES+=("$(printf '%-28s %s' "drain $r" "$D_ITEMS items, $D_PAGES pages, $(printf '%.3f' "$D_SECS") s, $rate items/s, $mib_s MiB/s")")
  [ "$r" -gt 1 ] || { items1=$D_ITEMS; wm1=$D_WM; bytes1=$D_BYTES; }
  if [ "$D_ORDER" != ok ]; then verdict=FAIL; problems+=("drain $r: items out of commit order ($D_ORDER)"); fi
  if [ "$D_ITEMS" -ne "$items1" ] || [ "$D_WM" != "$wm1" ]; then
    verdict=FAIL
    problems+=("drain $r: $D_ITEMS items up to $D_WM, drain 1 had $items1 up to $wm1")
  fi
done
alive "$dpid" || die "issuerhookd died during the drains: $(tail -n 20 "$DLOG")"
hwm_read_kb=$(status_kb "$dpid" VmHWM)
rss_after_kb=$(status_kb "$dpid" VmRSS)
stop "$dpid" 30
daemon_rc=$STOP_RC

last_seq=$(from_b36 "${wm1#w1.}")
if [ "$items1" -lt "$acked" ]; then
  verdict=FAIL
  problems+=("durability: the feed returned $items1 items but wrk saw $acked events acknowledged")
fi
if [ "$items1" -ne "$last_seq" ]; then
  verdict=FAIL
  problems+=("the last watermark $wm1 is position $last_seq, but $items1 items were read")
fi
if [ "$daemon_rc" -ne 0 ]; then
  verdict=FAIL
  problems+=("issuerhookd exited with status $daemon_rc after SIGTERM")
fi
log_lines=$(($(wc -l <"$DLOG") - startup_lines))
if [ "$log_lines" -ne 0 ]; then
  cp "$DLOG" "$BUILD/bench-feed-daemon.log"
  problems+=("warning: $log_lines lines at warn/error in the daemon log after start-up (kept in $BUILD/bench-feed-daemon.log)")
fi

# best and median of the runs
best=$(printf '%s\n' "${RATES[@]}" | sort -n | tail -n 1)
median=$(printf '%s\n' "${RATES[@]}" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2 + 0.5)}')
best_s=$(printf '%s\n' "${SECS[@]}" | sort -n | head -n 1)
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
if [ "$hwm_reset" = yes ]; then
  rss_line="$(mib "$hwm_read_kb") MiB during the drains (fill peak $(mib "$hwm_fill_kb") MiB; RSS $(mib "$rss_before_kb") MiB before reading, $(mib "$rss_after_kb") MiB after)"
else
  rss_line="$(mib "$hwm_read_kb") MiB over the whole run (VmHWM could not be reset after the fill; RSS $(mib "$rss_before_kb") MiB before reading)"
fi
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || rev="$rev+dirty"

{
  echo
  echo "issuerhookd feed benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), rev $rev, $(nproc) CPUs)"
  echo "read: GET /banking/recentEventHistory?limit=$FEED_LIMIT following watermarks from the start, one client (curl), loopback; server thread pool $SERVER_THREADS"
  echo
  printf '%-28s %s\n' "events stored" "$items1 (fill: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS POST /events, $acked acknowledged in $(printf '%.1f' "$fill_s") s, $fill_rps req/s)"
  printf '%-28s %s\n' "feed items/s best" "$best   (full drain in $(printf '%.3f' "$best_s") s)"
  printf '%-28s %s\n' "feed items/s median" "$median   (of $FEED_RUNS drains)"
  for l in "${RUNLINES[@]}"; do echo "$l"; done
  printf '%-28s %s\n' "bytes per drain" "$(awk -v b="$bytes1" -v n="$items1" 'BEGIN {printf "%.1f MiB, %.0f bytes per item", b / 1048576, (n > 0) ? b / n : 0}')"
  printf '%-28s %s\n' "daemon peak RSS (VmHWM)" "$rss_line"
  if [ "$verdict" = ok ]; then
    printf '%-28s %s\n' "order and completeness" "every drain: evt-000001 .. evt-$(printf '%06d' "$items1") once each, in commit order; last watermark $wm1"
  fi
  printf '%-28s %s\n' "daemon exit after SIGTERM" "status $daemon_rc"
  printf '%-28s %s\n' "daemon log (warn+)" "$log_lines lines after start-up"
  for p in "${problems[@]}"; do echo "$p"; done
  echo "result: $verdict"
} | tee -a "$SUMMARY"
log "summary appended to $SUMMARY"
[ "$verdict" = ok ] || exit 1
