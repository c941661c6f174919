# Source me: puts the project's virtualenv and collections path in effect.
ROTOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROTOR_ROOT
export PATH="$ROTOR_ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROTOR_ROOT/.build/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
export ANSIBLE_PYTHON_INTERPRETER="$ROTOR_ROOT/.venv/bin/python"
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_NOCOLOR=1
