#!/usr/bin/env bash
# Installs the Debian packages issuerhook needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and stops.
set -euo pipefail
# systemd: systemd-analyze for the unit test; prometheus: promtool for the /metrics test;
# debootstrap: the Docker runtime-stage test; shellcheck: the scripts test; curl, jq and
# sqlite3: the README's examples (the feed follower, looking at what is stored);
# python3-jsonschema, python3-yaml: the OpenAPI conformance test;
# libgnutls28-dev: TLS (the daemon checks client certificates with GnuTLS, which
# libmicrohttpd serves TLS with); openssl: the TLS tests make their certificates with it;
# slowhttptest: the slow-client test; libpq-dev: the PostgreSQL client the daemon links;
# postgresql: the server the PostgreSQL tests start (tests/kit/pgtmp.c, a throwaway
# cluster of their own).
pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev
      libcurl4-openssl-dev libssl-dev libsqlite3-dev libcmocka-dev curl jq sqlite3
      systemd prometheus debootstrap shellcheck python3-jsonschema python3-yaml
      libgnutls28-dev openssl slowhttptest libpq-dev postgresql)
[ "${IH_BENCH:-0}" = 1 ] && pkgs+=(wrk)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "issuerhook needs these Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
