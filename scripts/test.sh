#!/usr/bin/env bash
# Set up and run every test: unit, integration (IAM endpoint + local and SSH fleets), sanity, lint on the
# default environment; and, for every other supported ansible line (scripts/lines.sh), at the same time,
# scripts/test-line.sh: its own environment, the unit tests, the `smoke` integration tests and
# ansible-test sanity. Arguments go to the default run's pytest and skip the other lines;
# ROTOR_TEST_LINES="13 11" picks the other lines ("" for none).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started="$SECONDS"
scripts/setup.sh
scripts/setup-eda.sh   # ansible-rulebook for the leaked-key rulebook's tests, in its own virtualenv

# The SSH fleet needs Debian's sshd; install it when missing (root on our machines).
if ! [ -x /usr/sbin/sshd ]; then
  echo "test: installing openssh-server for the SSH fleet"
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq openssh-server >/dev/null
fi

# The audit's HTML report is rendered headless in a test; Debian's chromium does that (no CDN download).
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium for the headless rendering of the audit report"
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
fi

# shellcheck source=scripts/env.sh
source scripts/env.sh
# shellcheck source=scripts/lines.sh
source scripts/lines.sh
default_line="$(sed -n 's/^line=\([^ ]*\) .*/\1/p' .venv/.rotor-line)"

# The other lines run beside the default run (ROTOR_TEST_LINES_AFTER=1: after it), each in the background,
# all at once, with its own log.
if [ "$#" -gt 0 ]; then other_lines=""; else other_lines="${ROTOR_TEST_LINES-$ROTOR_TESTED_LINES}"; fi
ci="$ROOT/.build/ci"
mkdir -p "$ci"
declare -A line_pids=()
start_lines() {
  local line
  for line in $other_lines; do
    [ "$line" = "$default_line" ] && continue
    rm -f "$ci/line-$line.summary"
    scripts/test-line.sh "$line" "$ci/line-$line.summary" > "$ci/line-$line.log" 2>&1 &
    line_pids[$line]=$!
    echo "test: ansible line $line: set up, unit tests, smoke set and sanity in the background, log in ${ci#"$ROOT"/}/line-$line.log"
  done
}
[ "${ROTOR_TEST_LINES_AFTER:-0}" = 1 ] || start_lines

# Two workers, each test file on one of them (its fixtures and fleets stay together); most of a test's time
# is spent waiting on AWS-like lags and on hosts, so two share the machine's cores well. ROTOR_TEST_WORKERS=0: one process.
workers="${ROTOR_TEST_WORKERS:-2}"
if [ "$workers" = 0 ]; then parallel=(); else parallel=(-n "$workers" --dist loadfile); fi
main_started="$SECONDS"
main=passed
python -m pytest tests/unit tests/integration -q "${parallel[@]}" "$@" || main=FAILED
pytest_seconds=$((SECONDS - main_started))
sanity_started="$SECONDS"
scripts/sanity.sh || main=FAILED
sanity_seconds=$((SECONDS - sanity_started))
[ "${ROTOR_TEST_LINES_AFTER:-0}" != 1 ] || start_lines

status=0
[ "$main" = passed ] || status=1
summary=("line $default_line (default, ansible-core $(python -c 'import ansible.release; print(ansible.release.__version__)'), Python $(python -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')): $main: unit + integration ${pytest_seconds}s, sanity + lint ${sanity_seconds}s")
for line in $(printf '%s\n' "${!line_pids[@]}" | sort -n); do
  if ! wait "${line_pids[$line]}"; then
    status=1
    echo "test: ansible line $line FAILED; the end of ${ci#"$ROOT"/}/line-$line.log:"
    tail -n 60 "$ci/line-$line.log"
  fi
  summary+=("$(cat "$ci/line-$line.summary" 2>/dev/null || echo "line $line: FAILED (no summary; see ${ci#"$ROOT"/}/line-$line.log)")")
done
echo
echo "test: summary (${SECONDS}s in all)"
printf '  %s\n' "${summary[@]}"
exit "$status"
