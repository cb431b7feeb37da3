#!/usr/bin/env bash
# The Docker image without a Docker engine: builds the final stage of docker/Dockerfile into a
# folder with debootstrap and runs the daemon in it.
#
#   runtime_stage.sh BINARY DOCKERFILE WORKDIR [IHPGTMP]
#
#   BINARY      the daemon the build made (CTest passes $<TARGET_FILE:issuerhookd>)
#   DOCKERFILE  docker/Dockerfile; the build context is the folder above it, compose.yaml is beside it
#   WORKDIR     where the cached root file systems and each run's folder live (CTest's build folder)
#   IHPGTMP     tests/kit's ihpgtmp: with it, step 6 runs the postgresql profile's node
#
# Everything is read from the Dockerfile; no list here repeats it.
#  1. Parse: the final stage (FROM debian:<suite>[-slim], RUN, one COPY --from=<build stage>, ENV,
#     USER, WORKDIR, VOLUME, EXPOSE, HEALTHCHECK, STOPSIGNAL, exec-form ENTRYPOINT) and the build
#     stage, whose COPY'd files alone are configured, built and installed here like its RUN says
#     (with its -D flags), to show it needs no tests and installs what the final stage copies.
#  2. Static: no -dev package or build tool in the runtime list; the user is not root; the database
#     is on the VOLUME; the HEALTHCHECK reaches /health; the shutdown grace fits `docker stop`;
#     compose.yaml agrees with the Dockerfile (volume, healthcheck, grace, read-only root) and gives
#     the daemon its pan.key secret.
#  3. The stage, built as Docker would: debootstrap --variant=minbase <suite> (what debian:*-slim is
#     made from) with the host's Debian mirror and the image's apt sources, then every RUN before
#     the COPY executed as written, in a chroot. Cached under WORKDIR/cache, keyed by the stage's
#     text and this script; every run works on a fresh copy.
#  4. Every library the binary NEEDs comes from a package in the runtime list or in the base
#     image; ldd inside finds them all; no -dev package got in.
#  5. Run, with the root file system read-only when compose says so, the volume a folder of its
#     own (initialised from the image, like a named volume) and tmpfs where compose has one: the
#     daemon, as the USER (not root) with only the environment — the Dockerfile's ENV, a free port
#     on 127.0.0.1 in ISSUERHOOK_LISTEN and an API key — refuses to start without its PAN key; with
#     the pan.key secret at /run/secrets (as compose.yaml gives it) it starts, creates its database
#     on the volume, passes the HEALTHCHECK command as written, answers /health "pass", stores an Amiko
#     event, exits 0 on the STOPSIGNAL, and the HEALTHCHECK then fails. A second start on the same
#     volume replays the event instead of storing it again.
#  6. compose.yaml's profile postgresql (static: nodes of this image on its postgres service, the
#     password and the PAN key from secrets) and one of its nodes run with the environment compose
#     gives it, on a throwaway PostgreSQL standing in for the service: it starts, passes the
#     HEALTHCHECK, stores the event in the database (nothing on the volume), exits 0.
#
# Needs root (debootstrap, chroot, mounts), debootstrap and the Debian mirror: without them it
# FAILS. IH_SKIP_DOCKER_TEST=1 skips it (exit 77). IH_DEBIAN_MIRROR overrides the mirror,
# IH_DOCKER_TEST_KEEP=1 keeps the run's folder, IH_DOCKER_CACHE_DAYS (7) ages the cached stage out.
# It runs in its own mount and PID namespaces: nothing stays mounted or running after it, even
# when it is killed.
set -euo pipefail

me=docker_runtime_stage
log() { printf '[%s] %s\n' "$me" "$*" >&2; }
die() {
  printf '[%s] FAIL: %s\n' "$me" "$*" >&2
  exit 1
}

if [ "${IH_SKIP_DOCKER_TEST:-0}" = 1 ]; then
  log "skipped: IH_SKIP_DOCKER_TEST=1"
  exit 77
fi
[ $# -eq 3 ] || [ $# -eq 4 ] || die "usage: $0 BINARY DOCKERFILE WORKDIR [IHPGTMP]"
[ "$(id -u)" -eq 0 ] ||
  die "must run as root (debootstrap, chroot, mounts): run ctest as root, or set IH_SKIP_DOCKER_TEST=1 to skip this test"
for c in debootstrap chroot unshare mount umount mknod setpriv flock curl sqlite3 readelf ldd dpkg \
  dpkg-query sha256sum cmake timeout; do
  command -v "$c" >/dev/null 2>&1 ||
    die "'$c' is missing (.ci/deps.sh installs what the tests need: debootstrap, curl, sqlite3, ...)"
done

# Own mount and PID namespaces: mounts vanish and the daemon dies with this script.
if [ "${IH_DOCKER_TEST_NS:-0}" != 1 ]; then
  unshare --mount --pid --fork true 2>/dev/null ||
    die "cannot create mount and PID namespaces (unshare): needs root with CAP_SYS_ADMIN (in a container: --privileged), or IH_SKIP_DOCKER_TEST=1 to skip"
  export IH_DOCKER_TEST_NS=1
  exec unshare --mount --pid --fork --kill-child --mount-proc --propagation private -- \
    "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

SELF=$(realpath "${BASH_SOURCE[0]}")
BIN=$(realpath "$1")
DOCKERFILE=$(realpath "$2")
WORK=$(realpath -m "$3")
PGTMP=${4:+$(realpath "$4")}
[ -x "$BIN" ] || die "no daemon at $1"
[ -f "$DOCKERFILE" ] || die "no Dockerfile at $2"
CONTEXT=$(dirname "$(dirname "$DOCKERFILE")")
COMPOSE=$(dirname "$DOCKERFILE")/compose.yaml
EVENT_JSON=$CONTEXT/tests/fixtures/amiko/valid/event_case_created.json
[ -f "$EVENT_JSON" ] || die "no Amiko event fixture at $EVENT_JSON"
DOCKER_STOP_TIMEOUT=10 # seconds `docker stop` waits before SIGKILL, unless told otherwise
SECRETS=/run/secrets   # where Docker and compose mount secrets
BASE_RECIPE=2          # bump when build_base changes what it makes

# ---------------------------------------------------------------------------------------------
# Helpers

trim() {
  local s=$1
  s=${s#"${s%%[![:space:]]*}"}
  s=${s%"${s##*[![:space:]]}"}
  printf '%s' "$s"
}

# json_array TEXT: the strings of a JSON array of plain strings (no escapes), one a line.
json_array() {
  local s
  s=$(trim "$1")
  [[ $s =~ ^\[(.*)\]$ ]] || return 1
  s=$(trim "${BASH_REMATCH[1]}")
  while [ -n "$s" ]; do
    [[ $s =~ ^\"([^\"\\]*)\"[[:space:]]*(,[[:space:]]*)?(.*)$ ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
    s=${BASH_REMATCH[3]}
  done
}

# json_get FILE PATH: one value of a JSON file, by SQLite's JSON functions (sqlite3 is needed anyway).
json_get() {
  local f=${1//\'/\'\'}
  sqlite3 :memory: "SELECT json_extract(CAST(readfile('$f') AS TEXT), '$2');"
}

# dur_s DURATION: Docker/compose duration (1m30s, 3s, 500ms) in whole seconds, rounded up.
dur_s() {
  local s=$1 t=0 ms=0
  [[ $s =~ ^([0-9]+(h|m|s|ms))+$ ]] || return 1
  while [[ $s =~ ^([0-9]+)(ms|h|m|s)(.*)$ ]]; do
    case ${BASH_REMATCH[2]} in
      h) t=$((t + BASH_REMATCH[1] * 3600)) ;;
      m) t=$((t + BASH_REMATCH[1] * 60)) ;;
      s) t=$((t + BASH_REMATCH[1])) ;;
      ms) ms=$((ms + BASH_REMATCH[1])) ;;
    esac
    s=${BASH_REMATCH[3]}
  done
  echo $((t + (ms + 999) / 1000))
}

alive() {
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# mounted_under DIR: something is mounted at or below DIR (in this namespace).
mounted_under() {
  local d=${1// /\\040} mp
  while read -r _ _ _ _ mp _; do
    [[ $mp == "$d" || $mp == "$d"/* ]] && return 0
  done </proc/self/mountinfo
  return 1
}

MOUNTS=()
mnt() { # mount ARGS... TARGET — remembered for umount_all
  mount "$@"
  MOUNTS+=("${!#}")
}
umount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null ||
      log "could not unmount ${MOUNTS[i]}"
  done
  MOUNTS=()
}

# chroot_fs ROOT: /proc and a minimal /dev (a tmpfs with the usual nodes), as a container has.
chroot_fs() {
  local r=$1 spec n maj min
  mnt -t proc -o nosuid,nodev,noexec proc "$r/proc"
  mnt -t tmpfs -o nosuid,mode=0755,size=1m ihdev "$r/dev"
  for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r n maj min <<<"$spec"
    if ! mknod -m 0666 "$r/dev/$n" c "$maj" "$min" 2>/dev/null; then
      : >"$r/dev/$n"
      mnt --bind "/dev/$n" "$r/dev/$n"
    fi
  done
  ln -s /proc/self/fd "$r/dev/fd"
  ln -s /proc/self/fd/0 "$r/dev/stdin"
  ln -s /proc/self/fd/1 "$r/dev/stdout"
  ln -s /proc/self/fd/2 "$r/dev/stderr"
  mkdir -m 0755 "$r/dev/pts"
  mkdir -m 1777 "$r/dev/shm"
}

# resolve_user ROOT SPEC: "uid gid home" for a Dockerfile USER (name or uid, optional :group), as
# Docker resolves it from the image's /etc/passwd and /etc/group.
resolve_user() {
  local root=$1 spec=$2 u g="" line uid gid=0 home=/
  u=${spec%%:*}
  [[ $spec == *:* ]] && g=${spec#*:}
  if [[ $u =~ ^[0-9]+$ ]]; then
    uid=$u
    line=$(awk -F: -v id="$u" '$3 == id { print; exit }' "$root/etc/passwd")
  else
    line=$(awk -F: -v n="$u" '$1 == n { print; exit }' "$root/etc/passwd")
    [ -n "$line" ] || die "USER $spec: no user $u in the image's /etc/passwd"
    uid=$(cut -d: -f3 <<<"$line")
  fi
  if [ -n "$line" ]; then
    gid=$(cut -d: -f4 <<<"$line")
    home=$(cut -d: -f6 <<<"$line")
  fi
  if [ -n "$g" ]; then
    if [[ $g =~ ^[0-9]+$ ]]; then
      gid=$g
    else
      gid=$(awk -F: -v n="$g" '$1 == n { print $3; exit }' "$root/etc/group")
      [ -n "$gid" ] || die "USER $spec: no group $g in the image's /etc/group"
    fi
  fi
  echo "$uid $gid $home"
}

DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# root_cmd ROOT USERSPEC WORKDIR ENVLIST CMD...: sets IR to the command that runs CMD in the chroot as
# the USER, in WORKDIR, with only PATH, HOME and ENVLIST (KEY=VALUE a line) — how Docker runs RUN,
# the HEALTHCHECK and the container. Run it as "${IR[@]}": every step execs the next (same pid).
IR=()
root_cmd() {
  local root=$1 spec=$2 wd=$3 envs=$4 uid="" gid home
  shift 4
  local -a e=()
  [ -z "$envs" ] || mapfile -t e <<<"$envs"
  read -r uid gid home <<<"$(resolve_user "$root" "$spec")"
  [ -n "$uid" ] || exit 1
  IR=(env -i "PATH=$DEFAULT_PATH" "HOME=$home" "${e[@]}"
    chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/env -C "$wd" -- "$@")
}

# ---------------------------------------------------------------------------------------------
# 1. The Dockerfile

D_STAGE=() D_KW=() D_ARGS=() D_LINE=() S_IMAGE=() S_NAME=()
parse_dockerfile() {
  local line buf="" stage=-1 n=0 kw args
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*# ]] && continue
    [[ $line =~ ^[[:space:]]*$ ]] && continue
    if [[ $line =~ ^(.*)\\[[:space:]]*$ ]]; then
      buf+=${BASH_REMATCH[1]}
      continue
    fi
    buf+=$line
    [[ $buf =~ ^[[:space:]]*([A-Za-z]+)([[:space:]]+(.*))?$ ]] ||
      die "$DOCKERFILE:$n: cannot parse the instruction: $buf"
    kw=${BASH_REMATCH[1]^^}
    args=$(trim "${BASH_REMATCH[3]}")
    buf=""
    if [ "$kw" = FROM ]; then
      [[ $args =~ ^([^-[:space:]][^[:space:]]*)([[:space:]]+[Aa][Ss][[:space:]]+([^[:space:]]+))?$ ]] ||
        die "$DOCKERFILE:$n: expected FROM IMAGE [AS NAME], got: FROM $args"
      stage=$((stage + 1))
      S_IMAGE[stage]=${BASH_REMATCH[1]}
      S_NAME[stage]=${BASH_REMATCH[3]}
      continue
    fi
    [ "$stage" -ge 0 ] || die "$DOCKERFILE:$n: $kw before the first FROM is not supported by this test"
    D_STAGE+=("$stage") D_KW+=("$kw") D_ARGS+=("$args") D_LINE+=("$n")
  done <"$DOCKERFILE"
  [ -z "$buf" ] || die "$DOCKERFILE ends inside a continued line"
  [ "$stage" -ge 1 ] || die "$DOCKERFILE: expected a multi-stage build (a build stage, then the runtime stage)"
}

# copy_flags ARGS: sets CP_FROM, CP_CHOWN, CP_CHMOD and CP_REST (sources and destination).
copy_flags() {
  CP_FROM="" CP_CHOWN="" CP_CHMOD="" CP_REST=$1
  while [[ $CP_REST =~ ^--([a-z-]+)=([^[:space:]]+)[[:space:]]+(.*)$ ]]; do
    case ${BASH_REMATCH[1]} in
      from) CP_FROM=${BASH_REMATCH[2]} ;;
      chown) CP_CHOWN=${BASH_REMATCH[2]} ;;
      chmod) CP_CHMOD=${BASH_REMATCH[2]} ;;
      *) return 1 ;;
    esac
    CP_REST=${BASH_REMATCH[3]}
  done
  [[ $CP_REST != -* ]]
}

# The final stage, in order. Steps before the COPY build the cached stage (B_*); the rest is the
# container's configuration.
ENV_KEYS=() B_KIND=() B_TEXT=() B_USER=() B_WD=() B_ENV=() ENTRY=() CMD_ARGS=() VOLUMES=() PKGS=()
declare -A ENVV=()
USER_SPEC="" WD=/ COPY_SRC="" COPY_DEST="" COPY_CHOWN="" COPY_CHMOD="" BUILD_STAGE=""
EXPOSED="" HC_CMD="" HC_FORM="" HC_TIMEOUT=30 STOPSIG=SIGTERM STAGE_TEXT=""

env_list() { # the ENV so far, KEY=VALUE a line
  local k
  for k in "${ENV_KEYS[@]}"; do printf '%s=%s\n' "$k" "${ENVV[$k]}"; done
}

ENV_BAD='[$"'"'"'\\]'
parse_env() { # ENV KEY=VALUE ... | ENV KEY VALUE
  local where=$1 args=$2 tok k v
  local -a toks
  if [[ $args =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]+([^=]*)$ ]]; then
    toks=("${BASH_REMATCH[1]}=$(trim "${BASH_REMATCH[2]}")")
  else
    read -ra toks <<<"$args"
  fi
  for tok in "${toks[@]}"; do
    [[ $tok =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$where: cannot parse ENV $tok"
    k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
    [[ $v =~ ^\"([^\"]*)\"$ ]] && v=${BASH_REMATCH[1]}
    [[ $v =~ $ENV_BAD ]] && die "$where: ENV $k: quotes and \$ substitutions are not supported by this test"
    [ -n "${ENVV[$k]+set}" ] || ENV_KEYS+=("$k")
    ENVV[$k]=$v
  done
}

parse_final_stage() {
  local final=$1 i kw args where copied=0 opts rest
  for i in "${!D_KW[@]}"; do
    [ "${D_STAGE[i]}" -eq "$final" ] || continue
    kw=${D_KW[i]} args=${D_ARGS[i]} where="$DOCKERFILE:${D_LINE[i]}"
    [ "$copied" -eq 1 ] || STAGE_TEXT+="$kw $args"$'\n'
    case $kw in
      RUN)
        [[ $args == \[* || $args == --* ]] && die "$where: only shell-form RUN without flags is supported"
        [ "$copied" -eq 0 ] || die "$where: RUN after the COPY --from: keep every RUN before it (this test builds them into a cached stage)"
        B_KIND+=(RUN) B_TEXT+=("$args") B_USER+=("${USER_SPEC:-0}") B_WD+=("$WD") B_ENV+=("$(env_list)")
        ;;
      COPY)
        copy_flags "$args" || die "$where: unsupported COPY flags: $args"
        [ -n "$CP_FROM" ] || die "$where: the runtime stage may only COPY --from the build stage"
        [ "$copied" -eq 0 ] || die "$where: a second COPY: this test provides only the daemon binary"
        read -r COPY_SRC COPY_DEST rest <<<"$CP_REST"
        [ -n "$COPY_DEST" ] || die "$where: expected COPY --from=STAGE SOURCE DEST"
        [ -z "$rest" ] || die "$where: COPY --from with more than one source is not supported by this test"
        [[ $COPY_DEST == */ ]] && COPY_DEST+=$(basename "$COPY_SRC")
        [[ $COPY_DEST == /* ]] || COPY_DEST=${WD%/}/$COPY_DEST
        BUILD_STAGE=$CP_FROM COPY_CHOWN=$CP_CHOWN COPY_CHMOD=$CP_CHMOD copied=1
        ;;
      ENV) parse_env "$where" "$args" ;;
      USER) USER_SPEC=$args ;;
      WORKDIR)
        [[ $args == /* ]] && WD=$args || WD=${WD%/}/$args
        [ "$copied" -eq 1 ] || { B_KIND+=(WORKDIR) B_TEXT+=("$WD") B_USER+=("") B_WD+=("") B_ENV+=(""); }
        ;;
      VOLUME)
        if [[ $args == \[* ]]; then
          rest=$(json_array "$args") || die "$where: cannot parse VOLUME $args"
          mapfile -t VOLUMES <<<"$rest"
        else
          read -ra VOLUMES <<<"$args"
        fi
        ;;
      EXPOSE) EXPOSED=${args%% *} EXPOSED=${EXPOSED%/tcp} ;;
      HEALTHCHECK)
        rest=$args
        while [[ $rest =~ ^--([a-z-]+)=([^[:space:]]+)[[:space:]]+(.*)$ ]]; do
          opts=${BASH_REMATCH[1]}
          if [ "$opts" = timeout ]; then
            HC_TIMEOUT=$(dur_s "${BASH_REMATCH[2]}") || die "$where: HEALTHCHECK --timeout=${BASH_REMATCH[2]}"
          fi
          rest=${BASH_REMATCH[3]}
        done
        [[ $rest =~ ^CMD[[:space:]]+(.*)$ ]] || die "$where: expected HEALTHCHECK [OPTIONS] CMD ..."
        HC_CMD=${BASH_REMATCH[1]} HC_FORM=shell
        [[ $HC_CMD == \[* ]] && HC_FORM="exec"
        ;;
      STOPSIGNAL) STOPSIG=$args ;;
      ENTRYPOINT)
        rest=$(json_array "$args") ||
          die "$where: ENTRYPOINT must be in exec form [\"...\"] (so the daemon is PID 1 and gets SIGTERM)"
        mapfile -t ENTRY <<<"$rest"
        ;;
      CMD)
        rest=$(json_array "$args") || die "$where: CMD must be in exec form"
        [ -z "$rest" ] || mapfile -t CMD_ARGS <<<"$rest"
        ;;
      LABEL | ARG) ;;
      *) die "$where: $kw in the runtime stage is not supported by this test" ;;
    esac
  done
  [ "$copied" -eq 1 ] || die "$DOCKERFILE: the runtime stage has no COPY --from=<build stage> of the daemon"
}

# The packages of every `apt-get install` in the RUN texts, one a line; dies on flags it does not
# expect (--no-install-recommends is required).
apt_packages() {
  local text rest cmd tok seen=0
  local -a toks
  for text in "$@"; do
    rest=$text
    while [[ $rest =~ apt-get[[:space:]]+install[[:space:]](.*)$ ]]; do
      rest=${BASH_REMATCH[1]}
      cmd=${rest%%&&*} cmd=${cmd%%;*} cmd=${cmd%%|*}
      [[ $cmd == *--no-install-recommends* ]] ||
        die "the runtime stage's apt-get install needs --no-install-recommends (only what is listed)"
      read -ra toks <<<"$cmd"
      for tok in "${toks[@]}"; do
        [[ $tok == -* ]] && continue
        [[ $tok =~ ^[a-z0-9][a-z0-9+.-]*(=[^[:space:]]+)?$ ]] || die "apt-get install: cannot read package '$tok'"
        printf '%s\n' "${tok%%=*}"
        seen=1
      done
    done
  done
  [ "$seen" -eq 1 ] || die "no apt-get install in the runtime stage's RUN lines"
}

parse_dockerfile
FINAL=$((${#S_IMAGE[@]} - 1))
FROM_IMAGE=${S_IMAGE[FINAL]}
[[ $FROM_IMAGE =~ ^(docker\.io/)?(library/)?debian:([a-z]+)(-slim)?$ ]] ||
  die "runtime stage FROM $FROM_IMAGE: expected debian:<suite>-slim"
SUITE=${BASH_REMATCH[3]}
STAGE_TEXT="FROM $FROM_IMAGE"$'\n'
parse_final_stage "$FINAL"
RUNS=()
for i in "${!B_KIND[@]}"; do [ "${B_KIND[i]}" = RUN ] && RUNS+=("${B_TEXT[i]}"); done
pkgs=$(apt_packages "${RUNS[@]}") || exit 1
mapfile -t PKGS <<<"$pkgs"
[ ${#PKGS[@]} -gt 0 ] || die "no packages in the runtime stage's apt-get install"

# useradd (uid, home), as the RUN lines say; checked against the built image below.
UA_UID="" UA_HOME="" UA_NAME=""
for text in "${RUNS[@]}"; do
  re='useradd[[:space:]]([^;&|]*)'
  [[ $text =~ $re ]] || continue
  read -ra toks <<<"${BASH_REMATCH[1]}"
  for ((j = 0; j < ${#toks[@]}; j++)); do
    case ${toks[j]} in
      --uid | -u) UA_UID=${toks[j + 1]} j=$((j + 1)) ;;
      --uid=*) UA_UID=${toks[j]#*=} ;;
      --home-dir | -d | --home) UA_HOME=${toks[j + 1]} j=$((j + 1)) ;;
      --home-dir=*) UA_HOME=${toks[j]#*=} ;;
      --gid | -g | --shell | -s | --comment | -c | --groups | -G | --key | -K) j=$((j + 1)) ;;
      -*) ;;
      *) UA_NAME=${toks[j]} ;;
    esac
  done
done
[ -n "$UA_UID" ] || die "the runtime stage's RUN has no useradd --uid N"
[ -n "$UA_NAME" ] ||
  die "the runtime stage's RUN has no useradd --uid N ... NAME (a fixed non-root user)"
[ "${#ENTRY[@]}" -gt 0 ] || die "the runtime stage has no ENTRYPOINT"
[ -n "$USER_SPEC" ] || die "the runtime stage has no USER: the daemon would run as root"
[ "${#VOLUMES[@]}" -gt 0 ] || die "the runtime stage has no VOLUME"
[ -n "$HC_CMD" ] || die "the runtime stage has no HEALTHCHECK"
[ -n "${ENVV[ISSUERHOOK_LISTEN]:-}" ] || die "the runtime stage has no ENV ISSUERHOOK_LISTEN"
[ -n "${ENVV[ISSUERHOOK_DB]:-}" ] || die "the runtime stage has no ENV ISSUERHOOK_DB"

log "Dockerfile: runtime stage FROM $FROM_IMAGE (suite $SUITE), ${#RUNS[@]} RUN, packages: ${PKGS[*]}"
log "  useradd $UA_NAME uid $UA_UID home ${UA_HOME:-?}; USER $USER_SPEC; WORKDIR $WD; VOLUME ${VOLUMES[*]}"
log "  COPY --from=$BUILD_STAGE $COPY_SRC $COPY_DEST; ENTRYPOINT ${ENTRY[*]} ${CMD_ARGS[*]}"
log "  ENV $(env_list | tr '\n' ' ')"
log "  HEALTHCHECK ($HC_FORM, timeout ${HC_TIMEOUT}s): $HC_CMD; STOPSIGNAL $STOPSIG"

# ---------------------------------------------------------------------------------------------
# 2. Static checks

for p in "${PKGS[@]}"; do
  case $p in
    *-dev | build-essential | gcc* | g++* | cpp* | clang* | llvm* | make | cmake* | ninja-build | pkg-config | \
      pkgconf* | autoconf | automake | libtool* | binutils* | git | meson)
      die "the runtime stage installs $p: build tools and -dev packages belong in the build stage"
      ;;
  esac
done
[ "$UA_UID" != 0 ] || die "useradd --uid 0: the daemon must not run as root"
case ${USER_SPEC%%:*} in root | 0) die "USER $USER_SPEC is root" ;; esac
[ "$COPY_DEST" = "${ENTRY[0]}" ] || die "ENTRYPOINT ${ENTRY[0]} is not the COPY'd daemon $COPY_DEST"

DB=${ENVV[ISSUERHOOK_DB]}
VOLUME=""
for v in "${VOLUMES[@]}"; do [[ $DB == "${v%/}"/* ]] && VOLUME=${v%/}; done
[ -n "$VOLUME" ] || die "ISSUERHOOK_DB=$DB is not on a VOLUME (${VOLUMES[*]}): the data would die with the container"
LISTEN_PORT=${ENVV[ISSUERHOOK_LISTEN]##*:}
[ -z "$EXPOSED" ] || [ "$EXPOSED" = "$LISTEN_PORT" ] ||
  die "EXPOSE $EXPOSED but ISSUERHOOK_LISTEN=${ENVV[ISSUERHOOK_LISTEN]}"
[[ $HC_CMD == */health* ]] || die "the HEALTHCHECK does not ask /health: $HC_CMD"
if [[ $HC_CMD != *ISSUERHOOK_LISTEN* ]]; then
  [[ $HC_CMD == *":$LISTEN_PORT/"* ]] || die "the HEALTHCHECK asks neither ISSUERHOOK_LISTEN's port nor $LISTEN_PORT"
fi

# The shutdown grace: the image's ENV, else the daemon's default; it must end before SIGKILL.
DEFAULT_GRACE=$("$BIN" config-reference | awk -F'|' '$2 ~ /`ISSUERHOOK_SHUTDOWN_GRACE`/ { gsub(/[ `]/, "", $3); print $3 }')
[[ $DEFAULT_GRACE =~ ^[0-9]+$ ]] || die "cannot read ISSUERHOOK_SHUTDOWN_GRACE's default from '$BIN config-reference'"
IMAGE_GRACE=${ENVV[ISSUERHOOK_SHUTDOWN_GRACE]:-$DEFAULT_GRACE}
[ $((IMAGE_GRACE + 2)) -le "$DOCKER_STOP_TIMEOUT" ] ||
  die "ISSUERHOOK_SHUTDOWN_GRACE is $IMAGE_GRACE s in the image: \`docker stop\` kills after $DOCKER_STOP_TIMEOUT s; set ENV ISSUERHOOK_SHUTDOWN_GRACE to $((DOCKER_STOP_TIMEOUT - 2)) or less"

# compose.yaml, flattened: services.x.environment.KEY=VALUE, services.x.tmpfs[]=/tmp, ...
# (block mappings and lists of scalars: the subset compose.yaml is written in).
yaml_flat() {
  awk '
    function unq(s) {
      sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
      if (s ~ /^".*"$/) { s = substr(s, 2, length(s) - 2); gsub(/\\"/, "\"", s) }
      else if (s ~ /^\x27.*\x27$/) s = substr(s, 2, length(s) - 2)
      else sub(/[ \t]+#.*$/, "", s)
      return s
    }
    function path(   i, p) { p = ""; for (i = 1; i <= depth; i++) p = p (i > 1 ? "." : "") key[i]; return p }
    {
      line = $0; sub(/\r$/, "", line)
      if (line ~ /^[ \t]*(#.*)?$/) next
      match(line, /^ */); ind = RLENGTH; body = substr(line, ind + 1)
      if (body ~ /^- /) {
        while (depth > 0 && ind < lvl[depth]) depth--
        print path() "[]=" unq(substr(body, 3)); next
      }
      while (depth > 0 && ind <= lvl[depth]) depth--
      if (!match(body, /^[^: \t]+:([ \t]|$)/)) { print "?=" body; next }
      k = substr(body, 1, RLENGTH); sub(/:[ \t]*$/, "", k)
      v = unq(substr(body, RLENGTH + 1))
      if (v == "") { print path() (depth ? "." : "") k "="; depth++; key[depth] = k; lvl[depth] = ind }
      else print path() (depth ? "." : "") k "=" v
    }' "$1"
}

RO_ROOT=0 TMPFS=()
check_compose() {
  local -a flat
  local svc="" line k v vol_ok=0 grace="" stop="" hc="" want ef secret_ok=0 secret_file=""
  [ -f "$COMPOSE" ] || die "no compose.yaml beside the Dockerfile ($COMPOSE)"
  mapfile -t flat < <(yaml_flat "$COMPOSE")
  # the service of a plain `up`: it builds the Dockerfile and is in no profile
  for line in "${flat[@]}"; do
    [[ $line =~ ^services\.([^.]+)\.build\.dockerfile=(.*)$ ]] && [ "$(basename "${BASH_REMATCH[2]}")" = "$(basename "$DOCKERFILE")" ] &&
      ! printf '%s\n' "${flat[@]}" | grep "^services\.${BASH_REMATCH[1]}\.profiles" >/dev/null && svc=${BASH_REMATCH[1]}
  done
  [ -n "$svc" ] || die "compose.yaml: no service outside a profile builds $(basename "$DOCKERFILE")"
  local -A cenv=()
  for line in "${flat[@]}"; do
    [[ $line == "services.$svc."* ]] || [[ $line == volumes* ]] || [[ $line == secrets.* ]] || continue
    k=${line%%=*} v=${line#*=}
    [ -n "$v" ] || continue
    case $k in
      "services.$svc.env_file" | "services.$svc.env_file[]")
        ef=$(dirname "$COMPOSE")/$v
        [ -f "$ef" ] || die "compose.yaml: env_file $v does not exist"
        line=$(sed -n 's/^ISSUERHOOK_SHUTDOWN_GRACE=//p' "$ef" | tail -n 1)
        [ -z "$line" ] || cenv[ISSUERHOOK_SHUTDOWN_GRACE]=${cenv[ISSUERHOOK_SHUTDOWN_GRACE]:-$line}
        ;;
      "services.$svc.environment."*) cenv[${k##*.}]=$v ;;
      "services.$svc.environment[]") cenv[${v%%=*}]=${v#*=} ;;
      "services.$svc.volumes[]")
        if [ "${v#*:}" = "$VOLUME" ] || [ "${v#*:}" = "$VOLUME:rw" ]; then
          printf '%s\n' "${flat[@]}" | grep -xF "volumes.${v%%:*}=" >/dev/null ||
            die "compose.yaml: volume ${v%%:*} is not declared under the top-level volumes:"
          vol_ok=1
        fi
        ;;
      "services.$svc.secrets" | "services.$svc.secrets[]") [ "$v" = pan.key ] && secret_ok=1 ;;
      "secrets.pan.key.file") secret_file=$v ;;
      "services.$svc.read_only") [ "$v" = true ] && RO_ROOT=1 ;;
      "services.$svc.tmpfs" | "services.$svc.tmpfs[]") TMPFS+=("${v%%:*}") ;;
      "services.$svc.stop_grace_period") stop=$(dur_s "$v") || die "compose.yaml: stop_grace_period $v" ;;
      "services.$svc.healthcheck.test") hc=$v ;;
      "services.$svc.restart") [ "$v" != no ] || die "compose.yaml: restart: no" ;;
    esac
  done
  # Environment precedence in compose: environment, then env_file, then the image's ENV.
  grace=${cenv[ISSUERHOOK_SHUTDOWN_GRACE]:-$IMAGE_GRACE}
  [ "$vol_ok" -eq 1 ] || die "compose.yaml: service $svc has no named volume on $VOLUME"
  [ "$secret_ok" -eq 1 ] ||
    die "compose.yaml: service $svc gets no pan.key secret: the daemon reads its PAN key from /run/secrets/pan.key and refuses to start without one"
  [ -n "$secret_file" ] || die "compose.yaml: the secret pan.key is not declared with a file: under the top-level secrets:"
  grep -q "^services\.$svc\.restart=" <(printf '%s\n' "${flat[@]}") || die "compose.yaml: service $svc has no restart policy"
  [ -n "$stop" ] || die "compose.yaml: service $svc has no stop_grace_period (Docker's default, ${DOCKER_STOP_TIMEOUT}s, kills during a ${grace}s grace)"
  [ $((grace + 2)) -le "$stop" ] ||
    die "compose.yaml: stop_grace_period ${stop}s leaves no time after ISSUERHOOK_SHUTDOWN_GRACE=${grace}"
  if [ -n "$hc" ]; then
    [ "$HC_FORM" = shell ] || die "compose.yaml: compare a CMD-SHELL healthcheck with an exec-form HEALTHCHECK"
    line=$(json_array "$hc") || die "compose.yaml: cannot read healthcheck test $hc"
    mapfile -t want <<<"$line"
    [ "${want[0]:-}" = CMD-SHELL ] || die "compose.yaml: the healthcheck test is not CMD-SHELL: $hc"
    [ "${want[1]//\$\$/\$}" = "$HC_CMD" ] ||
      die "compose.yaml: the healthcheck test differs from the Dockerfile's HEALTHCHECK: $hc"
  fi
  if [ "$RO_ROOT" -eq 1 ]; then
    log "compose.yaml: service $svc, read-only root with tmpfs ${TMPFS[*]:-none}; the run below does the same"
  fi
}
check_compose

# The profile postgresql: a postgres service and nodes of this image on it. Each node: the
# image's HEALTHCHECK, a stop_grace_period after its grace, a restart policy, ISSUERHOOK_DB a
# postgresql:// URI on that service, its password from a secret (never in the URI), the pan.key
# secret (the same file for every node), its own host port, started once the database is
# healthy; the postgres service's password from a secret of its own. PG_NODE_ENV: one node's
# environment (KEY=VALUE lines), run below against a throwaway PostgreSQL.
PG_NODE_ENV="" PG_PASSWORD_SECRET=""
check_compose_postgresql() {
  local -a flat nodes=()
  local line n v pgsvc="" db pwfile ports="" port hc stop grace
  mapfile -t flat < <(yaml_flat "$COMPOSE")
  # (whole reads, no early exit: a writer cut off by SIGPIPE fails the pipeline under pipefail)
  flatv() { printf '%s\n' "${flat[@]}" | awk -v k="$1=" '!f && index($0, k) == 1 { print substr($0, length(k) + 1); f = 1 }'; }
  has() { printf '%s\n' "${flat[@]}" | grep -xF "$1" >/dev/null; }
  for line in "${flat[@]}"; do
    [[ $line =~ ^services\.([^.]+)\.profiles\[\]=postgresql$ ]] || continue
    n=${BASH_REMATCH[1]}
    if [ "$(flatv "services.$n.build.dockerfile")" = docker/Dockerfile ]; then nodes+=("$n"); else pgsvc=$n; fi
  done
  [ "${#nodes[@]}" -ge 2 ] || die "compose.yaml: the profile postgresql has ${#nodes[@]} node(s) of the image, not two or more"
  [ -n "$pgsvc" ] || die "compose.yaml: the profile postgresql has no database service"
  v=$(flatv "services.$pgsvc.environment.POSTGRES_PASSWORD_FILE")
  if ! { [[ $v == /run/secrets/* ]] && has "services.$pgsvc.secrets[]=${v#/run/secrets/}"; }; then
    die "compose.yaml: $pgsvc takes its password from no secret (POSTGRES_PASSWORD_FILE=$v)"
  fi
  [ -n "$(flatv "services.$pgsvc.healthcheck.test")" ] || die "compose.yaml: $pgsvc has no healthcheck the nodes can wait for"
  for n in "${nodes[@]}"; do
    db=$(flatv "services.$n.environment.ISSUERHOOK_DB")
    [[ $db == postgresql://*@"$pgsvc":* || $db == postgresql://*@"$pgsvc"/* ]] ||
      die "compose.yaml: $n: ISSUERHOOK_DB=$db is not a postgresql:// URI on the service $pgsvc"
    [[ $db != postgresql://*:*@* ]] || die "compose.yaml: $n: a password in ISSUERHOOK_DB (use ISSUERHOOK_DB_PASSWORD_FILE)"
    pwfile=$(flatv "services.$n.environment.ISSUERHOOK_DB_PASSWORD_FILE")
    if ! { [[ $pwfile == /run/secrets/* ]] && has "services.$n.secrets[]=${pwfile#/run/secrets/}"; }; then
      die "compose.yaml: $n: ISSUERHOOK_DB_PASSWORD_FILE=$pwfile is not a secret it gets"
    fi
    [ -n "$(flatv "secrets.${pwfile#/run/secrets/}.file")" ] || die "compose.yaml: the secret ${pwfile#/run/secrets/} has no file:"
    has "services.$n.secrets[]=pan.key" || die "compose.yaml: $n gets no pan.key secret (every node needs the same key)"
    [ "$(flatv "services.$n.depends_on.$pgsvc.condition")" = service_healthy ] ||
      die "compose.yaml: $n does not wait for $pgsvc to be healthy"
    case $(flatv "services.$n.restart") in "" | no) die "compose.yaml: $n has no restart policy" ;; esac
    hc=$(flatv "services.$n.healthcheck.test")
    [ "$hc" = "$(flatv "services.$SVC.healthcheck.test")" ] || die "compose.yaml: $n's healthcheck is not the image's: $hc"
    grace=$(flatv "services.$n.environment.ISSUERHOOK_SHUTDOWN_GRACE")
    stop=$(dur_s "$(flatv "services.$n.stop_grace_period")") || die "compose.yaml: $n has no stop_grace_period"
    [ $((${grace:-$IMAGE_GRACE} + 2)) -le "$stop" ] || die "compose.yaml: $n: stop_grace_period ${stop}s leaves no time after the grace"
    port=$(flatv "services.$n.ports[]")
    [[ " $ports " != *" ${port%:*} "* ]] || die "compose.yaml: $n publishes ${port%:*} like another node"
    ports+=" ${port%:*}"
    PG_PASSWORD_SECRET=${pwfile#/run/secrets/}
  done
  # one node's environment as compose gives it (environment wins over env_file)
  PG_NODE_ENV=$(printf '%s\n' "${flat[@]}" | sed -n "s|^services\.${nodes[0]}\.environment\.||p")
  log "compose.yaml: profile postgresql: $pgsvc and ${#nodes[@]} nodes (${nodes[*]}) on it, ports$ports"
}
SVC=$(yaml_flat "$COMPOSE" | sed -n 's|^services\.\([^.]*\)\.build\.dockerfile=.*|\1|p' | while read -r n; do
  yaml_flat "$COMPOSE" | grep "^services\.$n\.profiles" >/dev/null || echo "$n"
done | awk 'NR == 1')
check_compose_postgresql

# ---------------------------------------------------------------------------------------------
# Per run: a lock (runs in one build folder take turns), a folder, cleanup whatever happens

mkdir -p "$WORK/cache"
exec 9>"$WORK/lock"
flock -w 900 9 || die "another run holds $WORK/lock"
for d in "$WORK"/run.*; do # folders of runs that were killed
  [ -d "$d" ] || continue
  mounted_under "$d" || rm -rf --one-file-system "$d"
done
RUN_DIR=$(mktemp -d "$WORK/run.XXXXXX")
chmod 0755 "$RUN_DIR"
DPID="" DLOG=$RUN_DIR/daemon.log PG_STATE=""
cleanup() {
  local rc=$?
  trap - EXIT
  if [ -n "$DPID" ] && alive "$DPID"; then
    kill -KILL "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
  fi
  [ -z "$PG_STATE" ] || [ ! -f "$PG_STATE" ] || "$PGTMP" stop "$PG_STATE" >/dev/null 2>&1 || log "could not stop the PostgreSQL of $PG_STATE"
  umount_all
  [ -z "${USER_VIEW:-}" ] || rmdir "$USER_VIEW" 2>/dev/null || log "could not remove $USER_VIEW"
  if [ "$rc" -ne 0 ] && [ -s "$DLOG" ]; then
    log "the daemon's log (last 30 lines):"
    tail -n 30 "$DLOG" >&2
  fi
  if mounted_under "$RUN_DIR"; then
    log "left $RUN_DIR: something is still mounted in it"
  elif [ "${IH_DOCKER_TEST_KEEP:-0}" = 1 ]; then
    log "kept $RUN_DIR"
  else
    rm -rf --one-file-system "$RUN_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# 1b. The build stage: only the files it COPYs, then its RUN's cmake (configure, --build,
# --install) and strip commands on this host, with its build folder and prefix moved into the run's
# folder (its apt-get runs nowhere: this host has the build dependencies).

check_build_stage() {
  local s="" i kw args where wd=/ ctx=$RUN_DIR/context src dst cmd bld="" prefix="" steps=0 made
  local -a toks rest
  for i in "${!S_NAME[@]}"; do [ "${S_NAME[i]}" = "$BUILD_STAGE" ] && s=$i; done
  [[ -z $s && $BUILD_STAGE =~ ^[0-9]+$ ]] && s=$BUILD_STAGE
  [ -n "$s" ] || die "COPY --from=$BUILD_STAGE: no such stage"
  [ "$s" -lt "$FINAL" ] || die "COPY --from=$BUILD_STAGE: not an earlier stage"
  mkdir -p "$ctx"
  # map PATH: a path of the build stage, moved into the run's folder
  map() {
    local p=$1
    [[ $p == /* ]] || p=${wd%/}/$p
    if [ -n "$bld" ] && [[ $p == "$bld" || $p == "$bld"/* ]]; then
      echo "$RUN_DIR/build${p#"$bld"}"
    elif [ -n "$prefix" ] && [[ $p == "$prefix" || $p == "$prefix"/* ]]; then
      echo "$RUN_DIR/prefix${p#"$prefix"}"
    else
      echo "$ctx$p"
    fi
  }
  for i in "${!D_KW[@]}"; do
    [ "${D_STAGE[i]}" -eq "$s" ] || continue
    kw=${D_KW[i]} args=${D_ARGS[i]} where="$DOCKERFILE:${D_LINE[i]}"
    case $kw in
      WORKDIR) [[ $args == /* ]] && wd=$args || wd=${wd%/}/$args ;;
      COPY | ADD)
        copy_flags "$args" || die "$where: unsupported COPY flags"
        [ -z "$CP_FROM" ] || continue
        read -ra toks <<<"$CP_REST"
        dst=${toks[-1]}
        [[ $dst == /* ]] || dst=${wd%/}/$dst
        for src in "${toks[@]:0:${#toks[@]}-1}"; do
          case ${src%/} in
            . | tests | tests/*) die "$where: the build stage copies '$src': the build must not need the tests (nor the whole context)" ;;
          esac
          [ -e "$CONTEXT/$src" ] || die "$where: COPY $src: not in the build context $CONTEXT"
          if [ -d "$CONTEXT/$src" ]; then
            mkdir -p "$ctx$dst"
            cp -a "$CONTEXT/$src/." "$ctx$dst/"
          elif [[ $dst == */ ]] || [ "${#toks[@]}" -gt 2 ]; then
            mkdir -p "$ctx$dst"
            cp -a "$CONTEXT/$src" "$ctx$dst/"
          else
            mkdir -p "$(dirname "$ctx$dst")"
            cp -a "$CONTEXT/$src" "$ctx$dst"
          fi
        done
        ;;
      RUN)
        while IFS= read -r cmd; do
          read -ra toks <<<"$cmd"
          case "${toks[0]:-} ${toks[1]:-}" in
            "cmake -S")
              bld=""
              for ((j = 1; j < ${#toks[@]}; j++)); do [ "${toks[j]}" = -B ] && bld=${toks[j + 1]}; done
              [[ $bld == /* ]] || die "$where: this test follows 'cmake -S DIR -B /ABSOLUTE/DIR ...' only"
              bld=${bld%/}
              rest=()
              for ((j = 3; j < ${#toks[@]}; j++)); do
                if [ "${toks[j]}" = -B ]; then j=$((j + 1)); else rest+=("${toks[j]}"); fi
              done
              toks=(cmake -S "$(map "${toks[2]}")" -B "$RUN_DIR/build" "${rest[@]}")
              [[ " ${toks[*]} " == *" -DIH_TESTS=OFF "* ]] || die "$where: the build stage must configure with -DIH_TESTS=OFF"
              ;;
            "cmake --build") toks=(cmake --build "$(map "${toks[2]}")" "${toks[@]:3}") ;;
            "cmake --install")
              for ((j = 3; j < ${#toks[@]}; j++)); do [ "${toks[j]}" = --prefix ] && prefix=${toks[j + 1]%/}; done
              [ -n "$prefix" ] || die "$where: cmake --install without --prefix"
              rest=()
              [[ " ${toks[*]} " != *" --strip "* ]] || rest=(--strip)
              toks=(cmake --install "$(map "${toks[2]}")" --prefix "$RUN_DIR/prefix" "${rest[@]}")
              ;;
            "strip "*) toks=(strip "$(map "${toks[-1]}")") ;;
            *) continue ;;
          esac
          toks=("${toks[@]//\"\$(nproc)\"/$(nproc)}")
          toks=("${toks[@]//\$(nproc)/$(nproc)}")
          steps=$((steps + 1))
          log "build stage, on this host: ${toks[*]}"
          (cd "$ctx$wd" && "${toks[@]}") >>"$RUN_DIR/build.log" 2>&1 || {
            tail -n 30 "$RUN_DIR/build.log" >&2
            die "the build stage fails with only the files it COPYs (log above): does it COPY everything the build reads?"
          }
        done < <(sed 's/&&/\n/g; s/;/\n/g' <<<"$args")
        ;;
    esac
  done
  [ "$steps" -gt 0 ] || die "the build stage has no cmake command this test can follow"
  made=$(map "$COPY_SRC")
  [ -x "$made" ] || die "the build stage makes no $COPY_SRC (the runtime stage's COPY --from=$BUILD_STAGE would fail)"
  [ "$(needed "$made")" = "$(needed "$BIN")" ] ||
    die "the build stage's daemon links other libraries than $BIN: $(needed "$made" | tr '\n' ' ')"
  log "build stage: makes $COPY_SRC ($(stat -c %s "$made") bytes) from only the files it COPYs"
  rm -rf "$ctx" "$RUN_DIR/build" "$RUN_DIR/prefix"
}

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort; }
check_build_stage

# ---------------------------------------------------------------------------------------------
# 2b. The binary's libraries and their packages (host side)

# pkg_of PATH: the Debian package that ships PATH (any of its /usr-merged spellings).
pkg_of() {
  local p=$1 r c out
  r=$(realpath "$p")
  for c in "$p" "$r" "/usr${p#/usr}" "/usr${r#/usr}" "${p#/usr}" "${r#/usr}"; do
    out=$(dpkg -S "$c" 2>/dev/null | grep -v '^diversion' | head -n 1) || continue
    [ -n "$out" ] || continue
    out=${out%%:*}
    echo "${out%%,*}"
    return 0
  done
  return 1
}

LIB_PKG=()
declare -A LIB_OF_PKG=()
while read -r lib; do
  path=$(ldd "$BIN" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
  [[ $path == /* ]] || die "$BIN needs $lib, which ldd cannot find on this host"
  pkg=$(pkg_of "$path") || die "$lib ($path) belongs to no Debian package on this host"
  LIB_PKG+=("$pkg")
  LIB_OF_PKG[$pkg]="${LIB_OF_PKG[$pkg]:+${LIB_OF_PKG[$pkg]} }$lib"
done < <(needed "$BIN")
log "the daemon needs: $(for p in "${!LIB_OF_PKG[@]}"; do printf '%s (%s) ' "${LIB_OF_PKG[$p]}" "$p"; done)"

# ---------------------------------------------------------------------------------------------
# 3. The stage: debootstrap, then its RUN lines (cached)

# The host's Debian mirror (and security mirror), like the image's debian.sources.
MIRROR="" SECURITY=""
read_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() {
        if (uri != "" && types ~ /(^| )deb( |$)/ && enabled != "no") {
          n = split(suites, s, " ")
          for (i = 1; i <= n; i++) {
            if (s[i] ~ /-security$/) print "security " uri; else print (s[i] == suite ? "main " : "other ") uri
          }
        }
        uri = types = suites = enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "types:"   { $1 = ""; types = $0 }
      tolower($1) == "uris:"    { uri = $2 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      $1 != "deb" { next }
      { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = $i; s = $(i + 1)
        if (s ~ /-security$/) print "security " uri; else print (s == suite ? "main " : "other ") uri }' "$f"
  done
}
src=$(read_sources || true)
MIRROR=${IH_DEBIAN_MIRROR:-$(awk '$1 == "main" { print $2; exit }' <<<"$src")}
MIRROR=${MIRROR:-$(awk '$1 == "other" && $2 ~ /debian\/?$/ { print $2; exit }' <<<"$src")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY=$(awk '$1 == "security" { print $2; exit }' <<<"$src")
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
SECURITY=${SECURITY%/}
ARCH=$(dpkg --print-architecture)

check_mirror() {
  curl -fsS --max-time 30 -o /dev/null "$MIRROR/dists/$SUITE/InRelease" ||
    die "the Debian mirror $MIRROR is unreachable ($MIRROR/dists/$SUITE/InRelease); this test needs it (IH_DEBIAN_MIRROR=URL picks another, IH_SKIP_DOCKER_TEST=1 skips)"
}

CACHE=$WORK/cache
BASE_KEY=$(printf '%s\n' "$BASE_RECIPE" "$SUITE" "$ARCH" "$MIRROR" "$SECURITY" | sha256sum | cut -c1-16)
STAGE_KEY=$(printf '%s\n%s\n' "$BASE_KEY" "$STAGE_TEXT" | cat - "$SELF" | sha256sum | cut -c1-16)
BASE=$CACHE/base-$BASE_KEY
STAGE=$CACHE/stage-$STAGE_KEY

# The base: what debian:<suite>-slim is (debuerreotype makes it with debootstrap minbase): its
# apt sources and apt/dpkg settings, no package lists (a Dockerfile must apt-get update), no docs,
# man pages or locales.
build_base() {
  local tmp=$BASE.tmp r
  rm -rf --one-file-system "$tmp"
  mkdir -p "$tmp"
  r=$tmp/root
  log "debootstrap --variant=minbase $SUITE from $MIRROR (about 30 s)"
  if ! debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$r" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 25 "$tmp/debootstrap.log" >&2
    die "debootstrap $SUITE from $MIRROR failed (log above)"
  fi
  ! mounted_under "$tmp" || die "debootstrap left mounts under $tmp"
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian/*
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  chroot "$r" dpkg-query -W -f "\${Package}\n" >"$tmp/packages.txt"
  mv "$tmp" "$BASE"
}

# The stage: the base, then the runtime stage's RUN (and WORKDIR) in order, as Docker runs them.
build_stage() {
  local tmp=$STAGE.tmp r i t0 n=0
  rm -rf --one-file-system "$tmp"
  mkdir -p "$tmp"
  r=$tmp/root
  cp -a "$BASE/root" "$r"
  cp "$BASE/packages.txt" "$tmp/base-packages.txt"
  cp -L /etc/resolv.conf "$r/etc/resolv.conf"
  chroot_fs "$r"
  for i in "${!B_KIND[@]}"; do
    case ${B_KIND[i]} in
      WORKDIR) mkdir -p "$r${B_TEXT[i]}" ;;
      RUN)
        n=$((n + 1))
        t0=$SECONDS
        log "RUN #$n of the runtime stage in the chroot: ${B_TEXT[i]:0:100}..."
        root_cmd "$r" "${B_USER[i]}" "${B_WD[i]}" "${B_ENV[i]}" /bin/sh -c "${B_TEXT[i]}"
        if ! "${IR[@]}" </dev/null >"$tmp/run$n.log" 2>&1; then
          tail -n 30 "$tmp/run$n.log" >&2
          die "RUN #$n of the runtime stage fails (log above)"
        fi
        log "RUN #$n done in $((SECONDS - t0)) s"
        ;;
    esac
  done
  umount_all
  ! mounted_under "$tmp" || die "something is still mounted under $tmp"
  chroot "$r" dpkg-query -W -f "\${Package}\n" >"$tmp/packages.txt"
  mv "$tmp" "$STAGE"
}

t_stage=$SECONDS
if [ -d "$STAGE" ] && [ -n "$(find "$STAGE/packages.txt" -mtime -"${IH_DOCKER_CACHE_DAYS:-7}" 2>/dev/null)" ]; then
  log "the runtime stage is cached: $STAGE"
else
  rm -rf --one-file-system "$STAGE"
  check_mirror
  if [ -d "$BASE" ] && [ -n "$(find "$BASE/packages.txt" -mtime -"${IH_DOCKER_CACHE_DAYS:-7}" 2>/dev/null)" ]; then
    log "the debootstrap base is cached: $BASE"
  else
    rm -rf --one-file-system "$BASE"
    build_base
  fi
  build_stage
  log "runtime stage built in $((SECONDS - t_stage)) s"
fi
for d in "$CACHE"/base-* "$CACHE"/stage-*; do # older keys, failed builds
  [ "$d" = "$BASE" ] || [ "$d" = "$STAGE" ] || [ ! -e "$d" ] || rm -rf --one-file-system "$d"
done

# ---------------------------------------------------------------------------------------------
# 4. Libraries: from the runtime list or the base image; ldd inside finds them all

for pkg in "${LIB_PKG[@]}"; do
  in_list=0
  for p in "${PKGS[@]}"; do [ "$p" = "$pkg" ] && in_list=1; done
  [ "$in_list" -eq 1 ] && continue
  grep -qx "$pkg" "$STAGE/base-packages.txt" ||
    die "the daemon needs ${LIB_OF_PKG[$pkg]} from $pkg, which is neither in the runtime stage's apt-get install nor in $FROM_IMAGE"
done
if grep -E -- '-dev$|^(gcc|g\+\+|cpp|clang|make|cmake|binutils)(-[0-9.]+)?$' "$STAGE/packages.txt" >"$RUN_DIR/dev.txt"; then
  die "build packages got into the runtime stage: $(tr '\n' ' ' <"$RUN_DIR/dev.txt")"
fi
log "the stage has $(wc -l <"$STAGE/packages.txt") packages ($(wc -l <"$STAGE/base-packages.txt") from the base), $(du -sh "$STAGE/root" | cut -f1)"

ROOT=$RUN_DIR/root VOL=$RUN_DIR/volume
t0=$SECONDS
cp -a "$STAGE/root" "$ROOT"
log "fresh copy of the stage in $((SECONDS - t0)) s"
read -r UID_ GID_ HOME_ <<<"$(resolve_user "$ROOT" "$USER_SPEC")"
[ "$UID_" != 0 ] || die "USER $USER_SPEC is uid 0 in the image"
[ "$UID_" = "$UA_UID" ] || die "USER $USER_SPEC is uid $UID_, but useradd made uid $UA_UID"
[ -z "$UA_HOME" ] || [ "$HOME_" = "$UA_HOME" ] || die "the user's home is $HOME_, useradd said $UA_HOME"
[ -d "$ROOT$VOLUME" ] || die "VOLUME $VOLUME does not exist in the image (create it and chown it to the user)"
[ "$(stat -c %u "$ROOT$VOLUME")" = "$UID_" ] ||
  die "VOLUME $VOLUME is owned by uid $(stat -c %u "$ROOT$VOLUME"), not the USER ($UID_): the daemon could not create its database"

# COPY --from=<build stage>: the daemon this build made.
chown_to="0:0"
if [ -n "$COPY_CHOWN" ]; then
  read -r cu cg _ <<<"$(resolve_user "$ROOT" "$COPY_CHOWN")"
  chown_to="$cu:$cg"
fi
install -D -m "${COPY_CHMOD:-0755}" -o "${chown_to%%:*}" -g "${chown_to#*:}" "$BIN" "$ROOT$COPY_DEST"
mkdir -p "$ROOT$WD"

# The container: read-only root (as compose says), the volume initialised from the image's folder
# like a new named volume, tmpfs, /proc and /dev.
mkdir "$VOL"
cp -a "$ROOT$VOLUME/." "$VOL/"
chown --reference="$ROOT$VOLUME" "$VOL"
chmod --reference="$ROOT$VOLUME" "$VOL"
mkdir -p "$ROOT$SECRETS" # Docker makes the secrets' mount point in any image
if [ "$RO_ROOT" -eq 1 ]; then
  mnt --bind "$ROOT" "$ROOT"
  mount -o remount,bind,ro "$ROOT"
fi
chroot_fs "$ROOT"
for t in "${TMPFS[@]}"; do mnt -t tmpfs -o nosuid,nodev,mode=1777 ihtmp "$ROOT$t"; done
mnt --bind "$VOL" "$ROOT$VOLUME"
# The volume as the USER reaches it from the host side (sqlite3 below runs as the USER, outside
# the chroot): the checkout, and so WORK, may sit under a folder only root can enter (a mode 0700
# mktemp -d), so a bind mount of it in a fresh world-traversable folder of /tmp, in this private
# mount namespace only.
USER_VIEW=$(mktemp -d /tmp/ih-docker-volume.XXXXXX)
chmod 0755 "$USER_VIEW"
mnt --bind "$VOL" "$USER_VIEW"
if [ "$RO_ROOT" -eq 1 ]; then
  ! touch "$ROOT/ih-write-test" 2>/dev/null || die "the root file system is not read-only"
fi

ldd_out=$(chroot "$ROOT" /usr/bin/ldd "$COPY_DEST" 2>&1) || die "ldd $COPY_DEST in the image fails: $ldd_out"
if grep -q 'not found' <<<"$ldd_out"; then
  die "libraries missing in the image: $(grep 'not found' <<<"$ldd_out" | tr -s '\t\n' '  ')"
fi
log "ldd in the image: all $(grep -c '=>' <<<"$ldd_out") libraries found"

# ---------------------------------------------------------------------------------------------
# 5. Run it

KEYGEN=$("$BIN" keygen DOCKERTEST amiko:events 2>/dev/null)
API_KEY=$(grep -m1 '^ihk_' <<<"$KEYGEN") || die "issuerhookd keygen printed no key"
API_ENV=$(grep -m1 '^ISSUERHOOK_API_KEY_DOCKERTEST=' <<<"$KEYGEN") || die "issuerhookd keygen printed no configuration line"
AUTH_HEADER=${ENVV[ISSUERHOOK_AUTH_HEADER]:-X-API-Key}
EVENT_ID=$(json_get "$EVENT_JSON" '$.header.eventId')
[ -n "$EVENT_ID" ] || die "no header.eventId in $EVENT_JSON"
DB_HOST=$VOL/${DB#"$VOLUME"/}
SIG=${STOPSIG#SIG}

# listening PORT: inodes of the sockets listening on PORT (any address), one a line.
listening() {
  local hex
  hex=$(printf ':%04X' "$1")
  awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(listening "$p")" ] && { echo "$p"; return 0; }
  done
  return 1
}

# The container's environment: Docker's PATH and HOME, the image's ENV, then ours (-e).
NODE_ENV="" # more of the container's environment (compose's environment:), KEY=VALUE lines
container_env() {
  local keys
  keys=$(sed -n 's/=.*//p' <<<"$NODE_ENV" | paste -sd'|')
  env_list | grep -v '^ISSUERHOOK_LISTEN=' | grep -Ev "^(${keys:-ISSUERHOOK_LISTEN})=" || true
  [ -z "$NODE_ENV" ] || grep -v '^ISSUERHOOK_LISTEN=' <<<"$NODE_ENV" || true
  printf '%s\n' "ISSUERHOOK_LISTEN=127.0.0.1:$PORT" "$API_ENV"
}

PORT=""
start_daemon() {
  local i inode ok=1 socks
  for _ in 1 2 3; do
    ok=1
    PORT=$(pick_port) || die "no free port on 127.0.0.1"
    root_cmd "$ROOT" "$USER_SPEC" "$WD" "$(container_env)" "${ENTRY[@]}" "${CMD_ARGS[@]}"
    "${IR[@]}" </dev/null >>"$DLOG" 2>&1 &
    DPID=$!
    for i in $(seq 1 150); do
      alive "$DPID" || break
      if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/health"; then
        # SO_REUSEPORT: make sure the one listener on the port is this daemon.
        ok=0
        socks=$(readlink "/proc/$DPID/fd/"* 2>/dev/null || true)
        for inode in $(listening "$PORT"); do
          if grep -qxF "socket:[$inode]" <<<"$socks"; then ok=1; else ok=0 && break; fi
        done
        [ "$ok" -eq 1 ] && return 0
        log "another process listens on $PORT too; trying another port"
        break
      fi
      sleep 0.1
    done
    if alive "$DPID"; then
      kill -KILL "$DPID"
      wait "$DPID" 2>/dev/null || true
      [ "$ok" -eq 0 ] || die "the daemon did not answer on 127.0.0.1:$PORT within 15 s"
    else
      wait "$DPID" 2>/dev/null || true
      grep -qi 'in use' "$DLOG" || die "the daemon exited at start-up with only the environment (log below)"
    fi
    DPID=""
  done
  die "could not start the daemon on a free port"
}

# stop_daemon: the STOPSIGNAL; the daemon must exit 0 within DOCKER_STOP_TIMEOUT s.
stop_daemon() {
  local i rc=0
  kill -s "$SIG" "$DPID"
  for ((i = 0; i < DOCKER_STOP_TIMEOUT * 10; i++)); do
    alive "$DPID" || break
    sleep 0.1
  done
  alive "$DPID" && die "the daemon still runs ${DOCKER_STOP_TIMEOUT} s after SIG$SIG (docker stop would SIGKILL it)"
  wait "$DPID" || rc=$?
  DPID=""
  [ "$rc" -eq 0 ] || die "the daemon exited $rc on SIG$SIG"
  log "SIG$SIG: exited 0 in $((i / 10)).$((i % 10)) s"
}

healthcheck() { # the HEALTHCHECK command as written, as Docker runs it (the USER, the env, its timeout)
  local hc
  local -a argv
  if [ "$HC_FORM" = exec ]; then
    hc=$(json_array "$HC_CMD") || die "cannot parse HEALTHCHECK CMD $HC_CMD"
    mapfile -t argv <<<"$hc"
  else
    argv=(/bin/sh -c "$HC_CMD")
  fi
  root_cmd "$ROOT" "$USER_SPEC" "$WD" "$(container_env)" "${argv[@]}"
  timeout "$HC_TIMEOUT" "${IR[@]}" </dev/null >"$RUN_DIR/hc.out" 2>&1
}

post_event() { # prints the status; the body goes to $RUN_DIR/post.out
  curl -s -o "$RUN_DIR/post.out" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/events" \
    -H 'Content-Type: application/json' -H "$AUTH_HEADER: $API_KEY" -H "tracing-id: docker-test-$1" \
    --data-binary "@$EVENT_JSON"
}

as_user_sql() { setpriv --reuid="$UID_" --regid="$GID_" --clear-groups sqlite3 "$USER_VIEW/${DB#"$VOLUME"/}" "$1"; }

# Without its PAN key the daemon refuses to start, and says where the key goes.
PORT=$(pick_port) || die "no free port on 127.0.0.1"
root_cmd "$ROOT" "$USER_SPEC" "$WD" "$(container_env)" "${ENTRY[@]}" "${CMD_ARGS[@]}"
if timeout 15 "${IR[@]}" </dev/null >"$RUN_DIR/nokey.log" 2>&1; then
  die "the daemon exited 0 without a PAN key"
fi
grep -q 'no PAN key' "$RUN_DIR/nokey.log" ||
  die "without a PAN key the daemon does not refuse, saying so: $(tail -n 3 "$RUN_DIR/nokey.log")"
log "without the pan.key secret the daemon refuses to start: 'no PAN key (...)'"

# The secret, as compose gives it: the host's file bind-mounted at /run/secrets/pan.key with the
# host file's owner and mode (the daemon's user, 0400; the daemon refuses a key others can read).
mkdir -m 0755 "$RUN_DIR/secrets"
head -c 32 /dev/urandom >"$RUN_DIR/secrets/pan.key"
chown "$UID_:$GID_" "$RUN_DIR/secrets/pan.key"
chmod 0400 "$RUN_DIR/secrets/pan.key"
mnt --bind -o ro "$RUN_DIR/secrets" "$ROOT$SECRETS"

# First start: an empty volume.
start_daemon
log "the daemon answers on 127.0.0.1:$PORT (pid $DPID in this namespace)"
read -r _ ruid euid suid fsuid < <(grep '^Uid:' "/proc/$DPID/status")
read -r _ rgid egid _ _ < <(grep '^Gid:' "/proc/$DPID/status")
[ "$ruid $euid $suid $fsuid" = "$UID_ $UID_ $UID_ $UID_" ] || die "the daemon runs as uid $ruid/$euid/$suid/$fsuid, not $UID_"
[ "$rgid $egid" = "$GID_ $GID_" ] || die "the daemon runs as gid $rgid/$egid, not $GID_"
[ "$(cat "/proc/$DPID/comm")" = "$(basename "$COPY_DEST")" ] || die "pid $DPID is $(cat "/proc/$DPID/comm")"
log "it runs as uid $ruid gid $rgid"

healthcheck || die "the HEALTHCHECK fails against a running daemon: $(cat "$RUN_DIR/hc.out")"
log "HEALTHCHECK passes"
code=$(curl -s -o "$RUN_DIR/health.json" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")
status=$(json_get "$RUN_DIR/health.json" '$.status' 2>/dev/null || true)
[ "$code $status" = "200 pass" ] || die "GET /health: $code, status '$status': $(cat "$RUN_DIR/health.json")"
log "GET /health: 200, status pass"

code=$(post_event 1)
[[ $code == 2?? ]] || die "POST /events: $code $(cat "$RUN_DIR/post.out")"
log "POST /events: $code $(cat "$RUN_DIR/post.out")"

[ -f "$DB_HOST" ] || die "no database at $DB on the volume"
[ "$(stat -c %u "$DB_HOST")" = "$UID_" ] || die "the database on the volume is owned by uid $(stat -c %u "$DB_HOST"), not $UID_"
not_ours=$(find "$VOL" ! -uid "$UID_")
[ -z "$not_ours" ] || die "files on the volume not owned by uid $UID_: $not_ours"
log "on the volume, all owned by uid $UID_: $(find "$VOL" -mindepth 1 -printf '%P ')"
[ -z "$(find "$VOL" -name '*.key')" ] || die "a key file is on the volume, beside the data: $(find "$VOL" -name '*.key')"

stop_daemon
! healthcheck || die "the HEALTHCHECK passes with the daemon stopped: $HC_CMD"
log "HEALTHCHECK fails once it has stopped"
rows=$(as_user_sql "SELECT count(*) FROM records WHERE idem_key = lower('$EVENT_ID');")
[ "$rows" = 1 ] || die "the event $EVENT_ID is stored $rows times, not once"
log "the event is in the database on the volume"

# Second start: the same volume, as after a new container — the event replays.
start_daemon
code=$(post_event 2)
[ "$code" = 200 ] || die "the replay after a restart: $code $(cat "$RUN_DIR/post.out")"
stop_daemon
read -r rows dups < <(as_user_sql "SELECT count(*), sum(duplicates) FROM records WHERE idem_key = lower('$EVENT_ID');" | tr '|' ' ')
[ "$rows $dups" = "1 1" ] || die "after the replay: $rows rows, $dups duplicates (want 1 and 1)"
log "restart on the same volume: the event replays (1 row, 1 duplicate)"

# ---------------------------------------------------------------------------------------------
# 6. A node of the profile postgresql, with the environment compose gives it, on a throwaway
# PostgreSQL standing in for the postgres service (the role and database its URI names, the
# password in the secret it names: the USER's, mode 0400).

if [ -z "$PGTMP" ]; then
  log "no ihpgtmp given: the postgresql profile's node is not run"
else
  command -v psql >/dev/null 2>&1 || die "'psql' is missing (the postgresql package brings it)"
  PG_STATE=$RUN_DIR/pg.state
  # owned by this script (its parent: pid 1 of this namespace), removed by cleanup()
  "$PGTMP" start "$PG_STATE" >"$RUN_DIR/pg.log" 2>&1 || die "no throwaway PostgreSQL: $(tail -n 5 "$RUN_DIR/pg.log")"
  pg_dir=$(sed -n 's/^dir=//p' "$PG_STATE") pg_port=$(sed -n 's/^port=//p' "$PG_STATE")
  db_uri=$(sed -n 's/^ISSUERHOOK_DB=//p' <<<"$PG_NODE_ENV")
  [[ $db_uri =~ ^postgresql://([a-z_]+)@([a-z0-9_.-]+):([0-9]+)/([a-z_]+)(\?.*)?$ ]] ||
    die "compose.yaml's node: cannot read ISSUERHOOK_DB=$db_uri (postgresql://USER@HOST:PORT/DB?...)"
  pg_user=${BASH_REMATCH[1]} pg_db=${BASH_REMATCH[4]}
  pg_pw=$(head -c 18 /dev/urandom | base64)
  psql "host=$pg_dir/sock port=$pg_port user=ihtest dbname=postgres" -qAtX -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE $pg_user LOGIN PASSWORD '$pg_pw'" -c "CREATE DATABASE $pg_db OWNER $pg_user" >/dev/null ||
    die "cannot create the role and database the node's URI names"
  printf '%s\n' "$pg_pw" >"$RUN_DIR/secrets/$PG_PASSWORD_SECRET"
  chown "$UID_:$GID_" "$RUN_DIR/secrets/$PG_PASSWORD_SECRET"
  chmod 0400 "$RUN_DIR/secrets/$PG_PASSWORD_SECRET"
  local_uri="postgresql://$pg_user@127.0.0.1:$pg_port/$pg_db${BASH_REMATCH[5]}"
  NODE_ENV=$(awk -v u="$local_uri" '/^ISSUERHOOK_DB=/ { print "ISSUERHOOK_DB=" u; next } { print }' <<<"$PG_NODE_ENV")
  touch "$RUN_DIR/pg.mark"
  start_daemon
  healthcheck || die "the postgresql node: the HEALTHCHECK fails: $(cat "$RUN_DIR/hc.out")"
  code=$(post_event pg)
  [ "$code" = 200 ] || die "the postgresql node: POST /events: $code $(cat "$RUN_DIR/post.out")"
  stop_daemon
  rows=$(PGPASSWORD=$pg_pw psql "host=127.0.0.1 port=$pg_port user=$pg_user dbname=$pg_db" -qAtX \
    -c "SELECT count(*) FROM records WHERE idem_key = lower('$EVENT_ID')")
  [ "$rows" = 1 ] || die "the postgresql node: the event is stored $rows times in the database, not once"
  [ -z "$(find "$VOL" -newer "$RUN_DIR/pg.mark")" ] || die "the postgresql node wrote on the volume: $(find "$VOL" -newer "$RUN_DIR/pg.mark")"
  log "the postgresql profile's node: starts with compose's environment, HEALTHCHECK passes, the event is in PostgreSQL, nothing on the volume"
fi
log "PASS"
