# shellcheck shell=bash
# Shared by run.sh and feed.sh: process bookkeeping, free ports, readiness. The caller
# defines log(), TMP (a folder removed on exit) and PIDS (processes to stop on exit)
# before sourcing this file.

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop PID GRACE: SIGTERM, wait up to GRACE seconds, then SIGKILL; sets STOP_RC to the exit status.
# shellcheck disable=SC2034 # STOP_RC is read by the scripts that source this file
STOP_RC=0
# shellcheck disable=SC2034
stop() {
  local pid=$1 grace=$2 i=0
  STOP_RC=0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && [ "$i" -lt $((grace * 10)) ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if alive "$pid"; then
    log "pid $pid ignored SIGTERM for ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || STOP_RC=$?
  forget "$pid"
}

# forget PID: no longer ours to clean up (it has been reaped).
forget() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do
    if alive "$p"; then
      kill -TERM "$p" 2>/dev/null || true
    fi
  done
  for p in "${PIDS[@]}"; do
    local i=0
    while alive "$p" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    alive "$p" && kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port on 127.0.0.1 that nothing uses now, below the usual ephemeral range (32768+).
pick_port() {
  local p used
  used=$(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}' || true)
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    grep -qx "$p" <<<"$used" && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"
    return 0
  done
  return 1
}

# wait_ready PID URL: up to 10 s for PID to answer URL; fails early if PID exits.
wait_ready() {
  local pid=$1 url=$2 i
  for i in $(seq 1 100); do
    alive "$pid" || return 1
    curl -s -o /dev/null --max-time 1 "$url" && return 0
    [ "$i" -lt 100 ] && sleep 0.1
  done
  return 1
}

# kv FILE KEY: the value of a key=value line printed by events.lua's done().
kv() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
