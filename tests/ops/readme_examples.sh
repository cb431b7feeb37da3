#!/usr/bin/env bash
# The README's examples, run as a reader runs them: in order, against a fresh daemon
# started as `make run` starts it (config/dev.env, in a scratch folder, on a free port),
# each compared with the output the README shows after masking what changes from run
# to run (times, the Date header, UUIDs the daemon generates, the PAN key id).
#
#   readme_examples.sh DAEMON README CONFIG
#
# An example is a ```sh block that talks to 127.0.0.1:8080 or runs `sqlite3 -readonly`;
# the ``` block right after it is its output. The feed follower (the block starting with
# #!/usr/bin/env bash) is saved as follow-feed.sh and run for a few seconds; its output
# block is a transcript ("$ bash follow-feed.sh", its lines, "$ cat watermark", the
# watermark). Needs curl, jq and sqlite3 (.ci/deps.sh installs them).
set -euo pipefail

me=ops_readme_examples
if [ $# -ne 3 ]; then
    echo "usage: $0 DAEMON README CONFIG" >&2
    exit 2
fi
daemon=$(realpath "$1")
readme=$2
config=$(realpath "$3")
for tool in curl jq sqlite3; do
    command -v "$tool" >/dev/null || { echo "$me: FAIL: $tool is not installed (.ci/deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ih-readme.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Splits the README into numbered files: NNN.cmd for each example, NNN.out for the
# output block that follows it.
awk -v dir="$work/ex" '
    BEGIN { system("mkdir -p " dir) }
    /^```/ && !inb {
        inb = 1; lang = substr($0, 4); body = ""; next
    }
    /^```/ && inb {
        inb = 0
        if (lang == "sh" && body !~ /^make / && (body ~ /127\.0\.0\.1:8080/ || body ~ /sqlite3 -readonly/)) {
            n++; f = sprintf("%s/%03d.cmd", dir, n); printf "%s", body > f; close(f); want = 1
        } else if (want && lang != "sh") {
            f = sprintf("%s/%03d.out", dir, n); printf "%s", body > f; close(f); want = 0
        } else {
            want = 0
        }
        next
    }
    inb { body = body $0 "\n"; next }
    NF { want = 0 }
' "$readme"

# What changes from run to run, masked on both sides.
mask() {
    { cat; echo; } | sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/<time>/g' \
        -e 's/^Date: .*/Date: <date>/' \
        -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g' \
        -e 's/\b[0-9a-f]{16}\b/<hex>/g' -e 's/\r$//' -e 's/[[:space:]]+$//' | sed -e '/./,$!d' |
        sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}'
}

# The daemon, as make run starts it, on a free port.
mkdir -p "$work/run"
for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    (cd "$work/run" && exec env -i PATH="$PATH" ISSUERHOOK_LISTEN="127.0.0.1:$port" \
        "$daemon" --config "$config" >"$work/daemon.log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do
        grep -q "\"msg\":\"listening\".*\"port\":\"$port\"" "$work/daemon.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    grep -q "\"msg\":\"listening\"" "$work/daemon.log" && break
    wait "$pid" 2>/dev/null || true
    pid=
    [ "$attempt" = 5 ] && { echo "$me: FAIL: the daemon did not start" >&2; cat "$work/daemon.log" >&2; exit 1; }
done

failed=0
ran=0
cd "$work/run"
for cmd in "$work"/ex/*.cmd; do
    n=$(basename "$cmd" .cmd)
    want="$work/ex/$n.out"
    [ -f "$want" ] || { echo "$me: FAIL: example $n has no output block after it" >&2; failed=1; continue; }
    sed "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" "$cmd" >"$work/$n.sh"
    if head -1 "$cmd" | grep -q '^#!/usr/bin/env bash'; then
        # the follower: a few seconds of it, then its watermark
        cp "$work/$n.sh" follow-feed.sh
        set +e
        timeout 5 bash follow-feed.sh >"$work/$n.got" 2>&1
        st=$?
        set -e
        [ "$st" = 124 ] || { echo "$me: FAIL: the follower exited $st" >&2; failed=1; }
        { echo "\$ bash follow-feed.sh"; cat "$work/$n.got"; echo "\$ cat watermark"; cat watermark; } >"$work/$n.all"
        sed -E 's/^(\$ bash follow-feed.sh).*/\1/' "$want" >"$work/$n.want"
        mv "$work/$n.all" "$work/$n.got"
    else
        set +e
        bash "$work/$n.sh" >"$work/$n.got" 2>&1
        st=$?
        set -e
        [ "$st" = 0 ] || { echo "$me: FAIL: example $n exited $st" >&2; failed=1; }
        sed -i "s/127\.0\.0\.1:$port/127.0.0.1:8080/g" "$work/$n.got"
        cp "$want" "$work/$n.want"
    fi
    if ! diff -u <(mask <"$work/$n.want") <(mask <"$work/$n.got") >"$work/$n.diff"; then
        echo "$me: FAIL: example $n prints otherwise than the README shows:" >&2
        sed -n '1,3p' "$cmd" >&2
        cat "$work/$n.diff" >&2
        failed=1
    fi
    ran=$((ran + 1))
done
[ "$ran" -ge 15 ] || { echo "$me: FAIL: only $ran examples found in $readme" >&2; exit 1; }
[ "$failed" = 0 ] || exit 1
echo "$me: $ran README examples print what the README shows"
