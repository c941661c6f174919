#!/usr/bin/env bash
# Benchmarks of rotor.iam on this machine (see benchmarks/README.md):
#   benchmarks/run.sh                 # ping, naive playbook, rotor.iam.rotate at 5, 50, 500 local and 50 SSH hosts
#   benchmarks/run.sh --write         # ... and rewrite benchmarks/RESULTS.md
#   benchmarks/run.sh --quick         # smoke run: 5 local hosts, one round
#   benchmarks/run.sh --sizes 50 --ssh-sizes '' --repeat 3 --profile
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh >&2

# The SSH fleet needs Debian's sshd; install it when missing (root on our machines).
if ! [ -x /usr/sbin/sshd ]; then
  echo "bench: installing openssh-server for the SSH fleet" >&2
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq openssh-server >/dev/null
fi

# shellcheck source=scripts/env.sh
source scripts/env.sh
exec python benchmarks/bench.py "$@"
