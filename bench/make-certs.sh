#!/usr/bin/env bash
# Makes the benchmark's certificates with openssl: an ECDSA P-256 CA, a server certificate for NAME and 127.0.0.1
# (serverAuth), a client certificate (clientAuth). stunnel and Tunnel use the same files.
# Usage: bench/make-certs.sh DIR [NAME]
set -euo pipefail
dir=$1
name=${2:-bench.tunnel.test}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 365 -subj "/CN=Tunnel bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

issue() { # issue NAME SUBJECT_CN EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 365 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue server "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$name,IP:127.0.0.1"
issue client bench-client "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=DNS:bench-client"

chmod 600 ./*.key
chmod 644 ./*.pem
rm -f ca.srl
