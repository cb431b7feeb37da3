#!/usr/bin/env bash
# The README's configuration table is exactly what `issuerhookd config-reference` prints:
# every key with its default, nothing stale. usage: readme_config.sh ISSUERHOOKD README
set -euo pipefail
bin=$1
readme=$2
ref=$("$bin" config-reference | grep '^| `ISSUERHOOK_')
doc=$(grep '^| `ISSUERHOOK_' "$readme")
if [ "$ref" != "$doc" ]; then
  echo "FAIL: README.md's configuration table differs from 'issuerhookd config-reference'"
  echo "(regenerate it with: issuerhookd config-reference)"
  diff <(echo "$ref") <(echo "$doc") || true
  exit 1
fi
echo "README configuration table: $(echo "$ref" | wc -l) keys, in step"
