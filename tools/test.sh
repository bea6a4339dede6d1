#!/usr/bin/env bash
# The whole test suite: builds the integration toolchain (cached outside the checkout, see
# tools/build), then runs go vet and every test, unit and integration tiers, offline.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
echo "== toolchain (tools/build; cold: see README)"
EKSIRSA_TOOLS_BIN=$(tools/build)
export EKSIRSA_TOOLS_BIN
echo "== toolchain ready in $((SECONDS - start))s: $EKSIRSA_TOOLS_BIN"

# The emulated tier's moto_server and aws come with this machine kind's image, under pyenv;
# a shell that did not read ~/.bashrc may lack its shims on PATH.
for tool in moto_server aws; do
  if ! command -v "$tool" >/dev/null && [ -x "${PYENV_ROOT:-$HOME/.pyenv}/shims/$tool" ]; then
    export PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
    export PATH="$PYENV_ROOT/shims:$PYENV_ROOT/bin:$PATH"
  fi
done
echo "== emulated tier: moto_server $(command -v moto_server || echo MISSING), aws $(command -v aws || echo MISSING)"

echo "== go vet"
go vet ./...

echo "== go test (unit and integration tiers)"
go test -race -count=1 -timeout 75m ./...
echo "== all tests passed in $((SECONDS - start))s"
