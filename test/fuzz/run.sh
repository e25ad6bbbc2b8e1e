#!/usr/bin/env bash
# The API fuzz (docs/local-stack.md, "Fuzzing the API"): installs schemathesis (test/fuzz/requirements.txt)
# in a venv under test-artifacts/, then runs test/fuzz/run-api-fuzz.ts, which starts the local stack and
# fuzzes it. Arguments go to the launcher (--seed, --max-examples, --report-dir).
#
# Exit codes: 0 passed; 1 the fuzz found failures; 2 it could not run. When Python 3.11+, its venv
# module or the package index is missing, it says why and exits 2, or 0 with SLOTWISE_FUZZ_OPTIONAL=1
# (CI: the fuzz is extra, `npm test` needs only Node).
set -uo pipefail
cd "$(dirname "$0")/../.."

skip() {
  echo "API fuzz SKIPPED: $1" >&2
  if [ "${SLOTWISE_FUZZ_OPTIONAL:-}" = "1" ]; then exit 0; fi
  exit 2
}

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || skip "no $python on PATH (it needs Python 3.11 or later)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || skip "$("$python" --version 2>&1) is too old (schemathesis needs Python 3.11 or later)"

venv=test-artifacts/fuzz-venv
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >/dev/null 2>&1 || { rm -rf "$venv"; skip "$python cannot create a venv (python3-venv missing?)"; }
fi
"$venv/bin/python" -m pip --version >/dev/null 2>&1 || skip "the venv has no pip (python3-venv/ensurepip missing?)"
# Quiet unless it fails; a satisfied pin needs no network.
if ! log=$("$venv/bin/python" -m pip install --disable-pip-version-check -q -r test/fuzz/requirements.txt 2>&1); then
  echo "$log" | tail -5 >&2
  skip "pip could not install test/fuzz/requirements.txt (no access to the package index?)"
fi

# Node 22 (the `node` devDependency, as npm scripts get it): the launcher runs from its TypeScript source.
node=node_modules/.bin/node
[ -x "$node" ] || { echo "API fuzz: $node is missing; run npm ci first" >&2; exit 2; }
exec "$node" --experimental-transform-types --disable-warning=ExperimentalWarning \
  --import ./test/fuzz/ts-hooks.ts test/fuzz/run-api-fuzz.ts \
  --schemathesis "$venv/bin/schemathesis" "$@"
