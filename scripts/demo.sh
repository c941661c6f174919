#!/usr/bin/env bash
# The main job: set up, then rotate a 120-day-old key across a fleet on this machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
exec python "$ROOT/scripts/demo.py" "$@"
