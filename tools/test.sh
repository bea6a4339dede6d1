#!/usr/bin/env bash
# The whole test suite: builds the integration toolchain (cached outside the checkout, see
# tools/build), then runs go vet and every test, unit and integration tiers, offline.
#
# Everything of this module compiles once, with the race detector: go vet, the tests and
# the binaries the tests run (integration/testbin) share one set of compiled packages. That
# compilation shares nothing with the toolchain's (other modules, other flags), so go vet
# runs beside tools/build and uses the cores its links and downloads leave idle.
#
#   bash tools/test.sh           # what CI runs
#   bash tools/test.sh -json     # extra arguments go to go test (the README's per-test table)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

start=$SECONDS
# GOGC=400 for every Go process of the run, set before anything starts: the compiler and the
# linker (go vet's and the tests' compiles, tools/build's), the tests, and what they start (the
# Pulumi CLI ~1,000 times a run, the plugins, eksirsa, kube-apiserver, etcd). At the default
# 100 these collect their garbage several times over (`pulumi version`: 7 collections).
# Measured, 2026-12-07: one emulated scenario's processes 28.6-30.0 CPU-s instead of
# 31.1-33.9 (the CLI's share 9.3-9.5 -> 8.1-8.3); etcd built from an empty build cache 73.5
# CPU-s instead of 91 (GOGC=800: 71.7), the compiler's peak 341 MB instead of 248 MB. GOGC is
# not in the build cache's keys: the same binary, and a GOGC=100 build of it is a cache hit.
# Memory is not short here (24 GiB); behaviour is the same. A GOGC the caller set is kept.
export GOGC=${GOGC:-400}

# -trimpath for every go command below and under it (integration/testbin's builds, the
# test-only language host's build of the program): without it, where the checkout is goes
# into the build cache's keys of this module's packages, so a clone elsewhere (CI's) compiled
# all of them again: 81 of 930 CPU-seconds of a warm run from a new path on 2026-12-06.
# -gcflags=all=-dwarf=false: the compiler writes DWARF for every package and the test binaries
# are linked without it (-ldflags=-w below, integration/testbin likewise), so it is not written
# (a tenth of each compile's CPU: see tools/build). Stack traces and race reports read the
# symbol table, not DWARF.
export GOFLAGS="-trimpath -gcflags=all=-dwarf=false${GOFLAGS:+ $GOFLAGS}"
# Test binaries whose inputs did not change are reused, not linked again (tools/linkcache:
# 175 CPU-seconds of a warm run's 1,005 were its 30 links, 2026-12-07). GOFLAGS splits on
# spaces and cannot quote, so a checkout under a path with spaces links everything.
link_log=$(mktemp "${TMPDIR:-/tmp}/eksirsa-links.XXXXXX")
case $PWD in
*[[:space:]]*) echo "== test binaries are linked every run: the checkout's path has a space" ;;
*)
  export GOFLAGS="$GOFLAGS -toolexec=$PWD/tools/linkcache" EKSIRSA_LINK_LOG=$link_log
  tools/linkcache --prune 6000
  ;;
esac
vet_log=$(mktemp "${TMPDIR:-/tmp}/eksirsa-vet.XXXXXX")
echo "== go vet -race, then the integration package's build without it (beside the toolchain build)"
# The second compiles what the integration package's test binary, its doubles and the
# program itself import without the race detector (below; the test-only language host builds
# the program as the real one does, `go build`), and links that test binary (tools/linkcache
# keeps the link for go test): a fresh machine's 5 CPU-minutes, here while the toolchain's
# links and downloads leave cores idle. With the integration package race-built too, the
# language host's build of the program alone still compiled its imports without -race, in the
# middle of the suite: a fresh run of 40 min 57 s against 41 min 59 s less about 75 s of other
# work beside it (2026-12-07, README "Cut on 2026-12-07 (night)"). A build, not a second go
# vet: vet analyses every dependency for its facts (6,506 runs of the vet tool, 234 CPU-s, in
# the fresh run of 2026-12-07 with both vets), and go vet -race has already vetted this code;
# only testbin's two-line race switch differs between the modes. -run '^$' runs none of the
# tests.
{ go vet -race ./... && go build . ./integration/... && go test -ldflags=-w -count=1 -run '^$' ./integration; } >"$vet_log" 2>&1 &
vet_pid=$!
trap 'kill "$vet_pid" 2>/dev/null || true; rm -f "$vet_log" "$link_log"' EXIT

echo "== toolchain (tools/build; cold: see README)"
EKSIRSA_TOOLS_BIN=$(tools/build)
export EKSIRSA_TOOLS_BIN
echo "== toolchain ready in $((SECONDS - start))s: $EKSIRSA_TOOLS_BIN"

if ! wait "$vet_pid"; then
  cat "$vet_log"
  echo "== go vet, or the integration package's build, failed"
  exit 1
fi
cat "$vet_log"
echo "== go vet and the integration package's build passed ($((SECONDS - start))s)"

# The emulated tier's moto_server and aws come with this machine kind's image, under pyenv;
# a shell that did not read ~/.bashrc may lack its shims on PATH.
for tool in moto_server aws; do
  if ! command -v "$tool" >/dev/null && [ -x "${PYENV_ROOT:-$HOME/.pyenv}/shims/$tool" ]; then
    export PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
    export PATH="$PYENV_ROOT/shims:$PYENV_ROOT/bin:$PATH"
  fi
done
# pyenv's shims are bash scripts that run pyenv to find the interpreter: 70 ms of CPU before
# Python starts (aws --version: 0.45 s through the shim, 0.38 s direct, 2026-12-07), and the
# emulated tier starts aws about 150 times a run (every kubeconfig client's get-token). Put
# the interpreter's own bin directory, where the shims lead, first.
shims="${PYENV_ROOT:-$HOME/.pyenv}/shims"
if [ "$(command -v aws)" = "$shims/aws" ] && real=$("${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv" which aws 2>/dev/null); then
  export PATH="$(dirname "$real"):$PATH"
fi
echo "== emulated tier: moto_server $(command -v moto_server || echo MISSING), aws $(command -v aws || echo MISSING)"

echo "== go test: ./integration without -race (its output last), every other package with it, side by side"
# -ldflags=-w: test binaries without DWARF (debuggers only; stack traces and race reports
# read the symbol table Go keeps), which cuts each link's CPU by a quarter (the integration
# test binary: 16.7 s to 12.6 s, 2026-12-06); integration/testbin links the same way.
# The race detector runs where a race would be this module's: every package's own tests
# (the product's, the driver's, and the doubles' and harnesses' own: awsemu, tlsemu, moto,
# testcluster, ...) and the eksirsa driver the emulated scenarios run (integration/testbin
# builds it with -race always). The integration package's test binary only orchestrates
# processes, and the doubles it starts are tested with the detector in their own packages:
# without it there, one emulated scenario's test binary took 1.1 CPU-s instead of 3.4 and
# its plugins 2.5 instead of 3.5, of 42 (2026-12-07).
# ./integration is the run's critical path (its emulated scenarios, 2 at a time); the other
# packages run one at a time beside it, as they did when one go test -p 2 held a slot for it.
# Its output comes last: go test prints a package's output when the package ends, and a
# failing scenario's messages must be at the end, where CI's excerpt of the output is.
integration_log=$(mktemp "${TMPDIR:-/tmp}/eksirsa-tests.XXXXXX")
trap 'kill "$vet_pid" "${integration_pid:-}" 2>/dev/null || true; rm -f "$vet_log" "$link_log" "$integration_log"' EXIT
go test -ldflags=-w -count=1 -timeout 75m "$@" ./integration >"$integration_log" 2>&1 &
integration_pid=$!
integration=$(go list ./integration)
status=0
# shellcheck disable=SC2046 # one package path per word
go test -race -ldflags=-w -count=1 -timeout 75m -p 1 "$@" $(go list ./... | grep -vxF "$integration") || status=$?
wait "$integration_pid" || status=$?
integration_pid=
cat "$integration_log"
if [ "$status" -ne 0 ]; then
  echo "== tests failed ($((SECONDS - start))s)"
  exit "$status"
fi
echo "== test binaries: $(grep -c '^reused' "$link_log") reused, $(grep -c '^linked' "$link_log") linked (tools/linkcache)"
echo "== all tests passed in $((SECONDS - start))s"
