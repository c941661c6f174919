#!/usr/bin/env bash
# Set up and run every test: unit, integration (IAM endpoint + local and SSH fleets), sanity, lint.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh

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
# Two workers, each test file on one of them (its fixtures and fleets stay together); most of a test's time
# is spent waiting on AWS-like lags and on hosts, so two share the machine's cores well. ROTOR_TEST_WORKERS=0: one process.
workers="${ROTOR_TEST_WORKERS:-2}"
if [ "$workers" = 0 ]; then parallel=(); else parallel=(-n "$workers" --dist loadfile); fi
python -m pytest tests/unit tests/integration -q "${parallel[@]}" "$@"
scripts/sanity.sh
