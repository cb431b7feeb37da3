#!/usr/bin/env bash
# Large-event feed benchmark (issue 11.5; see tests/bench/README.md, "Large events").
#
#   bash tests/bench/feed_large.sh BUILD_DIR_OR_DAEMON
#
# 1. fill: the daemon (BUILD_DIR/issuerhookd, or a daemon binary given directly, e.g. an
#    older build to compare) on a fresh database, default settings (ISSUERHOOK_MAX_BODY 2MiB),
#    takes LARGE_EVENTS Amiko case_created events of LARGE_BYTES each (a long `note`).
# 2. drain: GET /banking/recentEventHistory from the start, following the watermark until
#    hasMore is false: items/s, pages, and the daemon's peak RSS while draining (VmHWM reset
#    after the fill). A drain gives up after LARGE_TRIES answers that are not 200 or after
#    LARGE_SECONDS.
# 3. concurrent: LARGE_READERS such drains at once while a probe POSTs a small event and GETs
#    /health every 0.2 s: their latency (p50, max) and statuses, and the drains' statuses.
# Everything on 127.0.0.1; bounded in time (each phase at most LARGE_SECONDS). Results on
# stdout and appended to bench-summary.txt beside the daemon.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR_OR_DAEMON" >&2; exit 2; }
[ $# -eq 1 ] || usage
if [ -d "$1" ]; then DAEMON=$(cd "$1" && pwd)/issuerhookd; else DAEMON=$(realpath "$1"); fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LARGE_EVENTS=${LARGE_EVENTS:-140}
LARGE_BYTES=${LARGE_BYTES:-2040000}
LARGE_READERS=${LARGE_READERS:-4}
LARGE_TRIES=${LARGE_TRIES:-3}
LARGE_SECONDS=${LARGE_SECONDS:-90}
for v in LARGE_EVENTS LARGE_BYTES LARGE_READERS LARGE_TRIES LARGE_SECONDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "feed-large: $v must be a positive integer" >&2; exit 2; }
done
[ "$LARGE_SECONDS" -le 300 ] || { echo "feed-large: LARGE_SECONDS must be at most 300" >&2; exit 2; }
[ "$LARGE_READERS" -le 16 ] || { echo "feed-large: LARGE_READERS must be at most 16" >&2; exit 2; }

log() { printf 'feed-large: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
for tool in curl jq sha256sum od awk; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed"
done
[ -x "$DAEMON" ] || die "no daemon at $DAEMON"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ih-feed-large.XXXXXX")
PIDS=()
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# --- daemon --------------------------------------------------------------------------------
KEY="feed-large-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
KEY_SHA=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
while read -r v; do unset "$v"; done < <(compgen -e | grep '^ISSUERHOOK_' || true)
started=0
for _ in 1 2 3 4 5; do
  port=$(pick_port) || die "no free port on 127.0.0.1"
  rm -rf "$TMP/db"
  ISSUERHOOK_LISTEN="127.0.0.1:$port" ISSUERHOOK_DB="$TMP/db/large.db" ISSUERHOOK_LOG_LEVEL=warn \
    ISSUERHOOK_RATE_LIMIT=0 ISSUERHOOK_API_KEY_LARGE="sha256:$KEY_SHA amiko:events,bankingAdmin/read" \
    "$DAEMON" >"$TMP/daemon.log" 2>&1 &
  dpid=$!
  PIDS+=("$dpid")
  if wait_ready "$dpid" "http://127.0.0.1:$port/health"; then started=1; break; fi
  stop "$dpid" 5
done
[ "$started" = 1 ] || die "the daemon did not start: $(tail -n 5 "$TMP/daemon.log")"
BASE="http://127.0.0.1:$port"
log "daemon $DAEMON on $BASE"

# --- fill ----------------------------------------------------------------------------------
head -c "$LARGE_BYTES" /dev/zero | tr '\0' x >"$TMP/filler"
t0=$EPOCHREALTIME
for ((i = 0; i < LARGE_EVENTS; i++)); do
  id=$(printf '%08x-0000-4000-8000-%012x' "$RANDOM$RANDOM" "$i")
  { printf '{"header":{"version":"2026.1.0","eventId":"%s","generatedAt":1710000000000},' "$id"
    printf '"event":{"type":"case_created","caseId":"1234","note":"'
    cat "$TMP/filler"
    printf '"}}'; } >"$TMP/body"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
    -H "X-API-Key: $KEY" -H "tracing-id: large-$i" --data-binary "@$TMP/body" "$BASE/events")
  [ "$code" = 200 ] || die "event $i answered $code"
done
fill_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
body_bytes=$(stat -c %s "$TMP/body")
rm -f "$TMP/body" "$TMP/filler"
log "stored $LARGE_EVENTS events of $body_bytes bytes in $fill_s s"

# drain OUT_PREFIX: follows the watermark; writes "items pages non200 seconds statuses" to OUT_PREFIX.res
drain() {
  local out=$1 wm="" items=0 pages=0 bad=0 t0 code more n statuses=""
  t0=$EPOCHREALTIME
  while :; do
    if awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$LARGE_SECONDS" 'BEGIN { exit !(b - a > m) }'; then break; fi
    code=$(curl -s -G -o "$out.page" -w '%{http_code}' --max-time "$LARGE_SECONDS" -H "X-API-Key: $KEY" \
      --data-urlencode "watermark=$wm" --data-urlencode limit=10000 "$BASE/banking/recentEventHistory" || echo 000)
    statuses+="$code "
    if [ "$code" != 200 ]; then
      bad=$((bad + 1))
      [ "$bad" -lt "$LARGE_TRIES" ] || break
      sleep 1
      continue
    fi
    n=$(jq '.items | length' "$out.page")
    more=$(jq -r .hasMore "$out.page")
    wm=$(jq -r .watermark "$out.page")
    items=$((items + n))
    pages=$((pages + 1))
    [ "$more" = true ] || break
  done
  rm -f "$out.page"
  printf '%s %s %s %s %s\n' "$items" "$pages" "$bad" \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')" \
    "$(tr ' ' '\n' <<<"$statuses" | grep . | sort | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')" \
    >"$out.res"
}

# --- drain alone ---------------------------------------------------------------------------
echo 5 >"/proc/$dpid/clear_refs" 2>/dev/null || log "cannot reset VmHWM: the peak covers the fill too"
drain "$TMP/d0"
read -r items pages bad secs statuses <"$TMP/d0.res"
hwm_kb=$(status_kb "$dpid" VmHWM)
rate=$(awk -v n="$items" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
log "drain alone: $items items in $pages pages, $secs s, statuses $statuses"

# --- concurrent drains with a probe ----------------------------------------------------------
echo 5 >"/proc/$dpid/clear_refs" 2>/dev/null || true
rpids=()
for ((r = 1; r <= LARGE_READERS; r++)); do
  drain "$TMP/d$r" &
  rpids+=($!)
  PIDS+=($!)
done
probe_end=$((SECONDS + LARGE_SECONDS))
: >"$TMP/post.lat"
: >"$TMP/health.lat"
k=0
while [ "$SECONDS" -lt "$probe_end" ]; do
  running=0
  for p in "${rpids[@]}"; do alive "$p" && running=1; done
  [ "$running" = 1 ] || break
  k=$((k + 1))
  id=$(printf '%08x-0000-4000-8000-%012x' "$RANDOM$RANDOM" "$k")
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 60 -H 'Content-Type: application/json' \
    -H "X-API-Key: $KEY" -H "tracing-id: probe-$k" "$BASE/events" \
    --data-binary "{\"header\":{\"version\":\"2026.1.0\",\"eventId\":\"$id\",\"generatedAt\":1710000000000},\"event\":{\"type\":\"case_created\"}}" \
    >>"$TMP/post.lat" || echo "000 60" >>"$TMP/post.lat"
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 60 "$BASE/health" >>"$TMP/health.lat" ||
    echo "000 60" >>"$TMP/health.lat"
  sleep 0.2
done
for p in "${rpids[@]}"; do
  alive "$p" && kill "$p" 2>/dev/null
  wait "$p" 2>/dev/null || true
  forget "$p"
done
hwm4_kb=$(status_kb "$dpid" VmHWM)
citems=0 cbad=0 cmax=0 cstat=""
for ((r = 1; r <= LARGE_READERS; r++)); do
  [ -f "$TMP/d$r.res" ] || { cstat+="(killed) "; continue; }
  read -r i1 _ b1 s1 st1 <"$TMP/d$r.res"
  citems=$((citems + i1))
  cbad=$((cbad + b1))
  cmax=$(awk -v a="$cmax" -v b="$s1" 'BEGIN { print (b > a ? b : a) }')
  cstat+="$st1 "
done
lat() { # FILE: "p50 ms / max ms (n probes, statuses)"
  sort -k2 -n "$1" | awk '{ s[NR] = $2; c[$1]++ } END {
    if (NR == 0) { print "no probe"; exit }
    printf "p50 %.1f ms / max %.1f ms (%d probes;", s[int((NR + 1) / 2)] * 1000, s[NR] * 1000, NR
    for (k in c) printf " %s:%d", k, c[k]; print ")" }'
}
stop "$dpid" 20

{
  printf '%s\n' "--- feed_large.sh: $LARGE_EVENTS events of $body_bytes bytes, $DAEMON"
  printf '%-30s %s\n' "fill" "$fill_s s"
  printf '%-30s %s\n' "drain alone" "$items items, $pages pages, $secs s, $rate items/s (answers $statuses)"
  printf '%-30s %s\n' "peak RSS draining alone" "$(mib "$hwm_kb") MiB"
  printf '%-30s %s\n' "$LARGE_READERS drains at once" "$citems items in all, slowest $cmax s, answers: $cstat"
  printf '%-30s %s\n' "peak RSS, drains at once" "$(mib "$hwm4_kb") MiB"
  printf '%-30s %s\n' "POST /events meanwhile" "$(lat "$TMP/post.lat")"
  printf '%-30s %s\n' "GET /health meanwhile" "$(lat "$TMP/health.lat")"
  printf '%-30s %s\n' "daemon exit" "status $STOP_RC"
} | tee -a "$(dirname "$DAEMON")/bench-summary.txt"
