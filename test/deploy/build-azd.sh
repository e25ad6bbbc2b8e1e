#!/usr/bin/env bash
# Builds azd, the Azure Developer CLI, from its Go module for test/deploy/azd-package.test.ts (the real
# tool packaging the real project). The Go module proxy serves azd's exact versions but not its version
# list, so `go install …@version` (which asks for the list) is refused; a throwaway module that requires
# the exact version and `go build` works. The version is linked in as azd's release builds do, so azd does
# not run as a developer build.
#
# Prints the directory holding `azd` on stdout, and nothing else; says why on stderr and prints nothing
# when it cannot build (no Go, no module proxy): the test then skips itself, saying so. About 3 minutes
# on 2 cores the first time; reused while test-artifacts/azd holds that version.
set -uo pipefail
cd "$(dirname "$0")/../.."

version=1.31.2
dir=test-artifacts/azd
skip() {
  echo "azd build SKIPPED: $1" >&2
  exit 0
}

command -v go >/dev/null 2>&1 || skip "no go on PATH"
if [ -x "$dir/azd" ] && "$dir/azd" version 2>/dev/null | grep -q "^azd version $version "; then
  echo "$dir"
  exit 0
fi
mkdir -p "$dir/module"
cd "$dir/module"
[ -f go.mod ] || go mod init slotwise-azd-build >/dev/null 2>&1 || skip "go mod init failed"
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/azure/azure-dev/cli/azd"\n' >tools.go
log=$(go get "github.com/azure/azure-dev/cli/azd@v$version" 2>&1) || {
  echo "$log" | tail -3 >&2
  skip "go get github.com/azure/azure-dev/cli/azd@v$version failed (no access to the Go module proxy?)"
}
log=$(go build -ldflags "-X 'github.com/azure/azure-dev/cli/azd/internal.Version=$version (commit 0000000000000000000000000000000000000000)'" \
  -o ../azd github.com/azure/azure-dev/cli/azd 2>&1) || {
  echo "$log" | tail -5 >&2
  skip "go build of azd $version failed"
}
echo "$dir"
