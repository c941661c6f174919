# Source me: puts the project's virtualenv and collections path in effect: the default environment
# (.venv/), or the line ROTOR_ANSIBLE names (built by `ROTOR_ANSIBLE=NN scripts/setup.sh`).
ROTOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROTOR_ROOT
# shellcheck source=scripts/lines.sh
source "$ROTOR_ROOT/scripts/lines.sh"
rotor_line_paths "$ROTOR_ROOT" "${ROTOR_ANSIBLE:-}"
if ! [ -x "$LINE_VENV/bin/python" ]; then
  echo "env.sh: no environment in $LINE_VENV: run ${ROTOR_ANSIBLE:+ROTOR_ANSIBLE=$ROTOR_ANSIBLE }scripts/setup.sh" >&2
fi
export PATH="$LINE_VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$LINE_COLLECTIONS"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_PYTHON_INTERPRETER="$LINE_VENV/bin/python"
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_NOCOLOR=1
unset LINE_VENV LINE_COLLECTIONS
