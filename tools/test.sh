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

echo "== go vet"
go vet ./...

echo "== go test (unit and integration tiers)"
go test -race -count=1 -timeout 75m ./...
echo "== all tests passed in $((SECONDS - start))s"
