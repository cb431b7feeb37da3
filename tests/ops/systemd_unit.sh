#!/usr/bin/env bash
# The systemd side of an install, as a Debian admin gets it:
#  1. `cmake --install BUILD --prefix /usr` (into a DESTDIR) lays out the binary, the
#     unit, the sysusers.d file, the example configuration, the migrations and the docs;
#  2. the unit passes `systemd-analyze verify` without a single complaint;
#  3. `systemd-analyze security --offline=yes` rates it 2.0 or lower;
#  4. the sysusers.d file creates the unit's user;
#  5. the checks themselves fail on a broken or unhardened unit (negative controls);
#  6. the example configuration turns on no development PAN key.
# usage: systemd_unit.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
threshold=20 # systemd-analyze's scale is tenths: 20 = 2.0

for tool in systemd-analyze systemd-sysusers; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (Debian package systemd; .ci/deps.sh installs it)"; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fail() { echo "FAIL: $*"; exit 1; }

# 1. the layout
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
for f in usr/sbin/issuerhookd usr/lib/systemd/system/issuerhookd.service usr/lib/sysusers.d/issuerhook.conf \
         etc/issuerhook/issuerhook.env.example usr/share/doc/issuerhook/README.md usr/share/doc/issuerhook/LICENSE; do
  [ -s "$root/$f" ] || fail "/$f is not installed"
done
[ -x "$root/usr/sbin/issuerhookd" ] || fail "/usr/sbin/issuerhookd is not executable"
# every backend's migrations, each in its folder (migrations/sqlite/NNNN_*.sql, ...)
want=$(cd "$src/migrations" && find . -name '*.sql' | sort)
got=$(cd "$root/usr/share/issuerhook/migrations" && find . -name '*.sql' | sort)
[ -n "$want" ] || fail "no migrations in $src/migrations"
[ "$want" = "$got" ] || fail "installed migrations differ: want $(echo "$want" | tr '\n' ' ')got $(echo "$got" | tr '\n' ' ')"
unit=$root/usr/lib/systemd/system/issuerhookd.service
# bound at start (no lazy binding: its resolver saves vector registers, with request bytes in
# them, on thread stacks; tests/integration/test_card_memory.c finds them there otherwise)
readelf -d "$root/usr/sbin/issuerhookd" | grep -q 'BIND_NOW' || fail "/usr/sbin/issuerhookd is not linked with -z now"
# the installed binary needs nothing from the source tree or its working directory
(cd / && "$root/usr/sbin/issuerhookd" version) | grep -q '^issuerhookd ' || fail "the installed binary does not run from /"

# what the unit must say (the issue's contract with the admin)
# shellcheck disable=SC2016 # $MAINPID is systemd's, literally in the unit
for line in 'Type=notify' 'ExecStart=/usr/sbin/issuerhookd serve --config /etc/issuerhook/issuerhook.env' 'ExecReload=/bin/kill -HUP $MAINPID' \
            'EnvironmentFile=/etc/issuerhook/issuerhook.env' 'User=issuerhook' 'StateDirectory=issuerhook' \
            'Environment=ISSUERHOOK_DB=/var/lib/issuerhook/issuerhook.db' 'LimitCORE=0' 'NoNewPrivileges=yes' \
            'LoadCredential=pan.key:/etc/issuerhook/pan.key'; do
  grep -qxF "$line" "$unit" || fail "the unit lacks '$line'"
done
grep -qE '^WatchdogSec=[0-9]+s$' "$unit" || fail "the unit sets no WatchdogSec"
# the PAN key comes as a credential, never from the state directory
! grep -qE '^Environment=.*ISSUERHOOK_PAN_KEY_(FILE=/var/lib|DEVELOPMENT=(true|1|yes))' "$unit" ||
  fail "the unit points the PAN key into the state directory or at the development key"
# TimeoutStopSec must leave room above the default shutdown grace period
# shellcheck disable=SC2016 # backquotes of the Markdown table, not a command
grace=$("$root/usr/sbin/issuerhookd" config-reference | sed -n 's/^| `ISSUERHOOK_SHUTDOWN_GRACE` | `\([0-9]*\)`.*/\1/p')
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
{ [ -n "$grace" ] && [ -n "$stop" ]; } || fail "cannot read the shutdown grace ($grace) or TimeoutStopSec ($stop)"
[ "$stop" -gt "$grace" ] || fail "TimeoutStopSec=${stop}s is not above ISSUERHOOK_SHUTDOWN_GRACE=${grace}"

# 2. verify: the unit as installed, with ExecStart pointing into the DESTDIR so that
# verify can see the binary; any output at all is a failure (unknown keys only warn).
verify() { # unit file -> prints systemd-analyze's complaints
  local dir
  dir=$(mktemp -d "$tmp/verify.XXXX")
  sed "s|/usr/sbin/issuerhookd|$root/usr/sbin/issuerhookd|" "$1" >"$dir/issuerhookd.service"
  (cd "$dir" && systemd-analyze verify --man=no "$dir/issuerhookd.service" 2>&1) || echo "(exit status $?)"
}
out=$(verify "$unit")
[ -z "$out" ] || fail "systemd-analyze verify: $out"

# 3. the hardening score
security() { systemd-analyze security --offline=yes --threshold="$threshold" "$1" 2>&1; }
report=$(security "$unit") || { echo "$report"; fail "exposure above $threshold/10"; }
echo "$report" | tail -n1

# 4. the user
mkdir -p "$tmp/users/etc"
: >"$tmp/users/etc/passwd"
: >"$tmp/users/etc/group"
systemd-sysusers --root="$tmp/users" "$root/usr/lib/sysusers.d/issuerhook.conf" >/dev/null 2>&1 ||
  fail "systemd-sysusers refused issuerhook.conf"
grep -q '^issuerhook:x:[0-9]*:[0-9]*:.*:/var/lib/issuerhook:/usr/sbin/nologin$' "$tmp/users/etc/passwd" ||
  fail "sysusers did not create the issuerhook user"

# 5. negative controls: the checks above must catch these
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$unit" >"$tmp/typo.service"
[ -n "$(verify "$tmp/typo.service")" ] || fail "verify did not notice a misspelt key"
mkdir -p "$tmp/soft"
grep -vE '^(Protect|Private|Restrict|SystemCall|Capability|NoNewPrivileges)' "$unit" >"$tmp/soft/issuerhookd.service"
if security "$tmp/soft/issuerhookd.service" >/dev/null; then fail "an unhardened unit passed the threshold"; fi
# 6. the example configuration a production install starts from
ex=$root/etc/issuerhook/issuerhook.env.example
! grep -qE '^ISSUERHOOK_PAN_KEY_DEVELOPMENT=' "$ex" || fail "the example configuration turns on the development PAN key"
! grep -qE '^ISSUERHOOK_PAN_KEY_FILE=/var/lib/issuerhook' "$ex" || fail "the example configuration keeps the PAN key with the data"
echo "systemd unit: installed layout, verify and security ok"
