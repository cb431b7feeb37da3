#!/usr/bin/env bash
# Test certificates for the TLS tests, made with openssl into DIR (created):
#   ca.pem ca.key              the client CA (ISSUERHOOK_TLS_CLIENT_CA) and the server's issuer
#   other-ca.pem other-ca.key  a CA nobody trusts
#   server.pem server.key      CN=localhost, for 127.0.0.1 and localhost (serverAuth)
#   server2.pem server2.key    another server certificate (CN=localhost-2), for reloads
#   client.pem client.key      CN=amiko-prod,O=Amiko (clientAuth), issued by ca
#   expired.pem expired.key    the same subject, expired yesterday
#   wrongca.pem wrongca.key    the same subject, issued by other-ca
#   other.pem other.key        CN=someone-else,O=Amiko, issued by ca
# usage: make_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() {
  key "$1"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# leaf NAME ISSUER SUBJECT DAYS EXTENSIONS
leaf() {
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
  printf '%s\n' "$5" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days "$4" \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
server_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost'
client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
ca ca "issuerhook test CA"
ca other-ca "someone else's CA"
leaf server ca "/CN=localhost" 2 "$server_ext"
leaf server2 ca "/CN=localhost-2" 2 "$server_ext"
leaf client ca "/O=Amiko/CN=amiko-prod" 2 "$client_ext"
leaf expired ca "/O=Amiko/CN=amiko-prod" -1 "$client_ext"
leaf wrongca other-ca "/O=Amiko/CN=amiko-prod" 2 "$client_ext"
leaf other ca "/O=Amiko/CN=someone-else" 2 "$client_ext"
chmod 600 ./*.key
