#!/usr/bin/env bash
# Runs shellcheck over every shell script of the tree: each *.sh, .ci/run, and any other
# file whose first line is a sh/bash shebang. In a git checkout the files are the
# tracked ones plus the untracked ones git does not ignore (so build directories are
# left out and a new script is checked before it is committed); elsewhere, every file
# outside .git, build*/, var/ and node_modules/. Sourced files are followed (-x).
# Usage: shellcheck.sh [SOURCE_DIR]   (default: the tree this script is in)
set -euo pipefail

cd "${1:-$(dirname "$0")/../..}"
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (bash .ci/deps.sh installs it)" >&2; exit 1; }

list_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard
  else
    find . \( -name .git -o -path './build*' -o -path ./var -o -name node_modules \) -prune -o -type f -print0 |
      sed -z 's|^\./||'
  fi
}

scripts=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue # deleted in the work tree but still in the index
  case "$f" in
    */node_modules/*) continue ;;
    *.sh | .ci/run) scripts+=("$f") ;;
    *) if head -n 1 -- "$f" 2>/dev/null | grep -Eq '^#!.*[/ ](ba|da)?sh( |$)'; then scripts+=("$f"); fi ;;
  esac
done < <(list_files)

if [ ${#scripts[@]} -eq 0 ]; then
  echo "no shell script found in $PWD" >&2
  exit 1
fi
echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts"
printf '  %s\n' "${scripts[@]}"
shellcheck -x -- "${scripts[@]}"
echo "shellcheck: no finding"
