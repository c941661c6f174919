# Sourced by setup.sh, env.sh and test.sh: the lines of the `ansible` package rotor.iam is built and
# tested with, and how to find a Python for each. Functions only; nothing runs when sourced.

# The supported (tested) lines, by `ansible` package major version; meta/runtime.yml's requires_ansible
# states the same range of ansible-core. Line 11 (ansible-core 2.18, out of upstream support since November
# 2026) and 2.22 (a release candidate) can be built for trying, but are not supported: on 2.18 a template
# that yields null passes '' to the module, so check mode stops at the rotation journal's lease.
ROTOR_TESTED_LINES="12 13 14"

# rotor_line_info LINE: LINE_WHEEL (the `ansible` wheel amazon.aws comes from), LINE_CORE (ansible-core
# X.Y), LINE_CORE_SPEC (pip requirement), LINE_PYTHONS (controller Pythons, in order of preference),
# LINE_PIP_ARGS (extra pip options). Fails on an unknown line.
rotor_line_info() {
  LINE_PIP_ARGS=""
  case "$1" in
    # ansible 11 ships amazon.aws 9, older than galaxy.yml's dependency (>=10): line 11 is ansible-core 2.18
    # with the amazon.aws 10 of ansible 12 (which supports 2.17 and later), as an execution environment has it.
    11) LINE_WHEEL=12.3.0 LINE_CORE=2.18 LINE_PYTHONS="3.11 3.12 3.13" ;;
    12) LINE_WHEEL=12.3.0 LINE_CORE=2.19 LINE_PYTHONS="3.11 3.12 3.13" ;;
    13) LINE_WHEEL=13.8.0 LINE_CORE=2.20 LINE_PYTHONS="3.12 3.13 3.14" ;;
    14) LINE_WHEEL=14.5.0 LINE_CORE=2.21 LINE_PYTHONS="3.12 3.13 3.14" ;;
    # Not supported yet (release candidate): ansible-core 2.22 with ansible 14's amazon.aws, for trying.
    2.22) LINE_WHEEL=14.5.0 LINE_CORE=2.22 LINE_PYTHONS="3.13 3.14" ;;
    *) echo "unknown ROTOR_ANSIBLE line '$1': use one of $ROTOR_TESTED_LINES (ansible package major version), or 11 or 2.22 to try them" >&2
       return 1 ;;
  esac
  local minor="${LINE_CORE#2.}"
  if [ "$1" = 2.22 ]; then
    LINE_CORE_SPEC="ansible-core>=2.22.0rc1,<2.23"   # a pre-release in the specifier lets pip pick one
  else
    LINE_CORE_SPEC="ansible-core>=$LINE_CORE,<2.$((minor + 1))"
  fi
}

# rotor_python_runs CANDIDATE VERSION: the candidate really runs (pyenv shims of a Python that is not
# the global one exit 127) and is Python VERSION with venv.
rotor_python_runs() {
  [ "$("$1" -c 'import sys, venv, ensurepip; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$2" ]
}

# rotor_find_python VERSION...: prints the first Python that runs, trying each VERSION in order: on PATH
# (pythonX.Y, then python3), then pyenv's installed versions (newest patch release first).
rotor_find_python() {
  local version candidate root
  root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for version in "$@"; do
    for candidate in "$(command -v "python$version" 2>/dev/null)" "$(command -v python3 2>/dev/null)" \
                     $(ls -d "$root/versions/$version".*/bin/"python$version" 2>/dev/null | sort -rV); do
      if [ -n "$candidate" ] && rotor_python_runs "$candidate" "$version"; then
        echo "$candidate"
        return 0
      fi
    done
  done
  return 1
}

# rotor_default_line: ROTOR_DEFAULT_LINE and ROTOR_DEFAULT_PYTHON: ansible 14 on the newest Python >= 3.12
# found, else ansible 12 on Python 3.11. PYTHON=... chooses the interpreter (and so the line).
rotor_default_line() {
  if [ -n "${PYTHON:-}" ]; then
    ROTOR_DEFAULT_PYTHON="$PYTHON"
    case "$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" in
      3.1[2-9]) ROTOR_DEFAULT_LINE=14 ;;
      *) ROTOR_DEFAULT_LINE=12 ;;
    esac
  elif ROTOR_DEFAULT_PYTHON="$(rotor_find_python 3.14 3.13 3.12)"; then
    ROTOR_DEFAULT_LINE=14
  elif ROTOR_DEFAULT_PYTHON="$(rotor_find_python 3.11)"; then
    ROTOR_DEFAULT_LINE=12
  else
    echo "setup: no Python 3.11 or newer found (on PATH or under pyenv)" >&2
    return 1
  fi
}

# rotor_line_paths ROOT LINE: LINE_VENV and LINE_COLLECTIONS of LINE. The default environment (.venv/,
# .build/collections/) serves the line it was built for (recorded in .venv/.rotor-line); every other
# line lives in .build/lines/LINE/, so lines coexist.
rotor_line_paths() {
  if [ -z "$2" ] || [ "$2" = "${ROTOR_DEFAULT_LINE:-}" ] || grep -qs "^line=$2 " "$1/.venv/.rotor-line"; then
    LINE_VENV="$1/.venv" LINE_COLLECTIONS="$1/.build/collections"
  else
    LINE_VENV="$1/.build/lines/$2/venv" LINE_COLLECTIONS="$1/.build/lines/$2/collections"
  fi
}
