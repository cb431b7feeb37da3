#!/bin/sh
# Proves that check_routes.sh notices a difference: runs it on a fixture that
# misses routes of a fake table and describes operations the table lacks, and
# expects a failure that names each of them (and nothing it should not).
set -u
here=$(dirname "$0")
out=$(sh "$here/check_routes.sh" "$here/fixtures/routes_dump_fake.sh" "$here/fixtures/mismatch" 2>&1)
rc=$?
printf '%s\n' "$out"
fail() {
    echo "openapi_routes_selftest: FAIL: $1" >&2
    exit 1
}
[ "$rc" -eq 1 ] || fail "check_routes.sh exited $rc, expected 1"
expect() {
    printf '%s\n' "$out" | grep -F -x -q -e "$1" || fail "expected the line: $1"
}
refuse() {
    ! printf '%s\n' "$out" | grep -F -q -e "$1" || fail "did not expect: $1"
}
refuse_line() {
    ! printf '%s\n' "$out" | grep -F -x -q -e "$1" || fail "did not expect the line: $1"
}
expect '-   GET /metrics'
expect '-   POST /bookings/{amikoBookingId}/result'
expect "+   GET /extra    ($here/fixtures/mismatch/api.yaml)"
expect "+   PUT /events    ($here/fixtures/mismatch/api.yaml)"
refuse_line '-   POST /events'
refuse_line '-   GET /health'
refuse_line '-   GET /bookings/{amikoBookingId}'
refuse 'DELETE'
refuse 'not-a-path'
echo "openapi_routes_selftest: OK"
