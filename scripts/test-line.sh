#!/usr/bin/env bash
# One supported ansible line besides the default (scripts/test.sh runs one per line, at the same time):
# set up its environment (.build/lines/NN/), then the unit tests, the integration tests marked `smoke`
# (a rotation, a rollback, check mode, the audit, the workflow) and ansible-test sanity on it.
# Usage: scripts/test-line.sh NN [SUMMARY_FILE]. Every step runs; the exit status says whether all passed,
# and SUMMARY_FILE (default: .build/ci/line-NN.summary) gets one line: what passed and how long it took.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
line="${1:?usage: scripts/test-line.sh NN (an ansible line: 11, 12, 13, 14)}"
summary="${2:-$ROOT/.build/ci/line-$line.summary}"
mkdir -p "$(dirname "$summary")"
export ROTOR_ANSIBLE="$line"
steps=()
failed=0
started="$SECONDS"

step() {  # step NAME COMMAND...: run it, time it, remember the verdict
  local name="$1" begin="$SECONDS" verdict
  shift
  echo "=== line $line: $name: $*"
  if "$@"; then verdict=ok; else verdict=FAILED; failed=1; fi
  steps+=("$name $verdict $((SECONDS - begin))s")
  echo "=== line $line: $name: $verdict in $((SECONDS - begin))s"
}

step setup scripts/setup.sh
if [ "$failed" = 0 ]; then
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  core="$(python -c 'import ansible.release; print(ansible.release.__version__)')"
  pyver="$(python -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  # Another pytest session may run beside this one (the default line's): no shared cache.
  step unit python -m pytest -q -p no:cacheprovider tests/unit
  step smoke python -m pytest -q -p no:cacheprovider -m smoke tests/integration
  step sanity env ROTOR_SANITY_LINT=0 scripts/sanity.sh
else
  core="?" pyver="?"
fi
verdict=passed
[ "$failed" = 0 ] || verdict=FAILED
echo "line $line (ansible-core $core, Python $pyver): $verdict in $((SECONDS - started))s: ${steps[*]/%/,}" \
  | sed 's/,$//' > "$summary"
cat "$summary"
exit "$failed"
