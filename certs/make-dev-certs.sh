#!/usr/bin/env bash
# Creates a throw-away development PKI in certs/dev/ (git-ignored): a root CA, a server certificate for
# tunnel.local, localhost and 127.0.0.1, a client certificate "dev-client", and crl.pem.
# Does nothing if certs/dev/ca.pem already exists. Never use these certificates outside development.
#
# Usage: certs/make-dev-certs.sh TUNNEL_BINARY [ARGS...]
#   certs/make-dev-certs.sh src/TunnelServer/bin/Debug/net10.0/tunnel-server
#   certs/make-dev-certs.sh dotnet src/TunnelServer/bin/Debug/net10.0/tunnel-server.dll
#   certs/make-dev-certs.sh src/TunnelServer/bin/Debug/net10.0/tunnel-server.dll   (dotnet is added)
set -euo pipefail

if [[ $# -lt 1 || $1 == "-h" || $1 == "--help" ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -lt 1 ]] && exit 2 || exit 0
fi

tool=("$@")
if [[ ${tool[0]} == *.dll ]]; then
  tool=(dotnet "${tool[@]}")
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$here/dev"

if [[ -e "$dir/ca.pem" ]]; then
  echo "development PKI already exists in $dir; nothing to do (delete that folder to start over)"
  exit 0
fi

# No ca.pem means nothing usable is there: anything left over is from an interrupted run, so replace it.
certs() { "${tool[@]}" certs "$@" --dir "$dir" --force; }

certs init-ca --cn "Tunnel Dev Root CA" --org "Tunnel development (not for production)"
certs issue server tunnel.local --dns tunnel.local,localhost --ip 127.0.0.1
certs issue client dev-client
certs crl

echo
echo "development PKI ready in $dir:"
echo "  ca:   $dir/ca-bundle.pem"
echo "  server cert/key: $dir/issued/tunnel.local.pem  $dir/private/tunnel.local.key"
echo "  client cert/key: $dir/issued/dev-client.pem  $dir/private/dev-client.key"
echo "  crl:  $dir/crl.pem"
