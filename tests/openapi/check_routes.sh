#!/bin/sh
# Compares the daemon's route table with the OpenAPI descriptions.
#
#   check_routes.sh DUMP_PROGRAM OPENAPI_DIR
#
# DUMP_PROGRAM prints the route table, one "METHOD PATTERN" line per route
# (tests/openapi/routes_dump.c). Every *.yaml in OPENAPI_DIR is read with awk: a path
# is a key at exactly 2 spaces of indentation under the top-level `paths:` key, and a
# method is a key at exactly 4 spaces under a path. Fails, listing the difference,
# when a route is missing from the YAML, when the YAML describes an operation the
# table does not have, or when two YAML files describe the same operation.
set -u

me=openapi_routes
if [ $# -ne 2 ]; then
    echo "usage: $0 DUMP_PROGRAM OPENAPI_DIR" >&2
    exit 2
fi
dump=$1
dir=$2

if ! table=$("$dump"); then
    echo "$me: FAIL: $dump did not run" >&2
    exit 1
fi
table=$(printf '%s\n' "$table" | tr -d '\r' | awk 'NF { print toupper($1), $2 }' | sort -u)
if [ -z "$table" ]; then
    echo "$me: FAIL: $dump printed no route" >&2
    exit 1
fi

set -- "$dir"/*.yaml
if [ ! -f "$1" ]; then
    echo "$me: FAIL: no *.yaml file in $dir" >&2
    exit 1
fi

# One "METHOD PATH FILE" line per operation.
yaml=$(awk '
    FNR == 1 { inpaths = 0; path = "" }
    { sub(/\r$/, "") }
    /^paths:[ \t]*(#.*)?$/ { inpaths = 1; path = ""; next }
    /^[^ \t#]/ { inpaths = 0; path = ""; next }
    !inpaths { next }
    /^  [^ \t#]/ {
        key = substr($0, 3)
        sub(/[ \t]*(#.*)?$/, "", key)
        sub(/:$/, "", key)
        if (key ~ /^".*"$/ || key ~ /^\047.*\047$/)
            key = substr(key, 2, length(key) - 2)
        path = (substr(key, 1, 1) == "/") ? key : ""
        next
    }
    path != "" && /^    (get|put|post|delete|patch|head|options|trace|query):([ \t]|$)/ {
        m = substr($0, 5)
        sub(/:.*/, "", m)
        print toupper(m), path, FILENAME
    }
' "$@") || {
    echo "$me: FAIL: awk could not read $dir/*.yaml" >&2
    exit 1
}
if [ -z "$yaml" ]; then
    echo "$me: FAIL: no path and method found under paths: in $dir/*.yaml" >&2
    exit 1
fi

{
    printf '%s\n' "$table" | sed 's/^/T /'
    printf '%s\n' "$yaml" | sed 's/^/Y /'
} | awk -v me="$me" -v dir="$dir" '
    $1 == "T" { op = $2 " " $3; table[op] = 1; tn++; next }
    $1 == "Y" {
        op = $2 " " $3
        if (op in yfile) { dup[op] = yfile[op] " and " $4; next }
        yfile[op] = $4; yn++
    }
    END {
        bad = 0
        for (op in table) if (!(op in yfile)) { missing[++nm] = op; bad = 1 }
        for (op in yfile) if (!(op in table)) { extra[++ne] = op; bad = 1 }
        for (op in dup) { nd++; bad = 1 }
        if (!bad) {
            printf "%s: OK: the %d routes of the table and the %d operations of %s/*.yaml match\n", me, tn, yn, dir
            exit 0
        }
        printf "%s: FAIL: the route table and %s/*.yaml disagree\n", me, dir
        if (nm) {
            print "--- in the route table (src/api/routes.c), missing from the OpenAPI files:"
            sortv(missing, nm)
            for (i = 1; i <= nm; i++) print "-   " missing[i]
        }
        if (ne) {
            print "+++ in the OpenAPI files, not in the route table:"
            sortv(extra, ne)
            for (i = 1; i <= ne; i++) print "+   " extra[i] "    (" yfile[extra[i]] ")"
        }
        if (nd) {
            print "!!! described twice:"
            for (op in dup) print "!   " op "    (" dup[op] ")"
        }
        exit 1
    }
    function sortv(a, n,    i, j, t) {
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    }
'
