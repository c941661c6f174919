#!/usr/bin/env bash
# Set up the development environment from nothing but Python and Debian: a virtualenv with one line of
# the `ansible` package's ansible-core, boto3, moto and the test tools, and the amazon.aws collection
# taken from that line's `ansible` wheel on PyPI (Galaxy is not reachable from our machines).
# Idempotent: a second run only checks.
#
# Default: the newest Python >= 3.12 found (PATH, then pyenv's versions) with ansible 14 (ansible-core
# 2.21) in .venv/ and .build/collections/; without Python 3.12 or newer, Python 3.11 with ansible 12
# (ansible-core 2.19). ROTOR_ANSIBLE=12|13|14 builds another line beside it, in .build/lines/NN/
# (venv/ and collections/), with the oldest Python that line supports; ROTOR_ANSIBLE=11 (ansible-core
# 2.18) and ROTOR_ANSIBLE=2.22 (its release candidate) build lines that are not supported, for trying. PYTHON=/path/to/python
# overrides the choice of interpreter. `ROTOR_ANSIBLE=NN source scripts/env.sh` selects a line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lines.sh
source "$ROOT/scripts/lines.sh"

rotor_default_line          # sets ROTOR_DEFAULT_LINE, ROTOR_DEFAULT_PYTHON (or fails)
line="${ROTOR_ANSIBLE:-$ROTOR_DEFAULT_LINE}"
rotor_line_info "$line"     # sets LINE_WHEEL, LINE_CORE, LINE_PYTHONS, LINE_PIP_ARGS (or fails)
rotor_line_paths "$ROOT" "$line"    # sets LINE_VENV, LINE_COLLECTIONS

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ "$line" = "$ROTOR_DEFAULT_LINE" ]; then
    PYTHON="$ROTOR_DEFAULT_PYTHON"
  else
    PYTHON="$(rotor_find_python $LINE_PYTHONS)" || {
      echo "setup: ansible line $line needs Python $(echo "$LINE_PYTHONS" | tr ' ' '/'): none found on PATH or under pyenv" >&2
      exit 1
    }
  fi
fi
py_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$line" = "$ROTOR_DEFAULT_LINE" ] && [ -z "${ROTOR_ANSIBLE:-}" ]; then
  why="the default"
else
  why="ROTOR_ANSIBLE=$line"
fi
echo "setup: $why: ansible line $line: ansible-core $LINE_CORE and amazon.aws from ansible $LINE_WHEEL, on Python $py_version ($PYTHON), in ${LINE_VENV#"$ROOT"/}"

VENV="$LINE_VENV"
BUILD="$ROOT/.build"
COLLECTIONS="$LINE_COLLECTIONS/ansible_collections"

# A virtualenv of another Python or line (an older checkout's .venv) is replaced, not patched.
# (A symlinked .venv is only unlinked: rm -rf does not follow a symlink named without a trailing slash.)
identity="line=$line ansible-core=$LINE_CORE python=$py_version"
if [ -e "$VENV" ] && [ "$(cat "$VENV/.rotor-line" 2>/dev/null)" != "$identity" ]; then
  echo "setup: replacing ${VENV#"$ROOT"/} (was: $(cat "$VENV/.rotor-line" 2>/dev/null || echo "unknown line"))"
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv with Python $py_version"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  echo "$identity" > "$VENV/.rotor-line"
fi

# requirements-dev.txt names ansible-core without a version: the line's constraint pins it.
stamp="$VENV/.requirements.sha256"
want="$( (cat requirements.txt requirements-dev.txt; echo "$LINE_CORE_SPEC $LINE_PIP_ARGS") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python requirements ($LINE_CORE_SPEC)"
  # shellcheck disable=SC2086 # LINE_PIP_ARGS is a list of options
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $LINE_PIP_ARGS -r requirements-dev.txt "$LINE_CORE_SPEC" 2>&1 \
    | grep -v "^WARNING: Location" || true
  # Fail loudly if the install did not work or resolved another ansible-core.
  "$VENV/bin/python" - "$LINE_CORE" <<'PY'
import sys
import ansible.release, boto3, moto  # noqa: F401
if not ansible.release.__version__.startswith(sys.argv[1] + "."):
    sys.exit("setup: pip installed ansible-core %s, not %s" % (ansible.release.__version__, sys.argv[1]))
PY
  echo "$want" > "$stamp"
fi

# amazon.aws from the line's ansible wheel: only its folder is extracted.
if [ "$(cat "$LINE_COLLECTIONS/.ansible-wheel" 2>/dev/null)" != "$LINE_WHEEL" ] \
   || [ ! -f "$COLLECTIONS/amazon/aws/MANIFEST.json" ]; then
  echo "setup: fetching amazon.aws from ansible==$LINE_WHEEL on PyPI"
  mkdir -p "$BUILD/wheels" "$COLLECTIONS"
  wheel="$BUILD/wheels/ansible-$LINE_WHEEL-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
      "ansible==$LINE_WHEEL" -d "$BUILD/wheels" 2>&1 | grep -v "^WARNING: Location" || true
  fi
  rm -rf "$COLLECTIONS/amazon"
  "$VENV/bin/python" - "$wheel" "$LINE_COLLECTIONS" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    members = [n for n in archive.namelist() if n.startswith("ansible_collections/amazon/aws/")]
    archive.extractall(dest, members=members)
PY
  echo "$LINE_WHEEL" > "$LINE_COLLECTIONS/.ansible-wheel"
fi

# Our collection is the repository itself, linked into the collections path.
mkdir -p "$COLLECTIONS/rotor"
ln -sfn "$ROOT" "$COLLECTIONS/rotor/iam"

# ansible-test downloads a pip bootstrap script (get_pip_X_Y.py, X.Y the pip its line pins) before
# building venvs; offline we place a stand-in that uses ensurepip and the configured index instead.
pip_pin="$("$VENV/bin/python" - <<'PY'
import pathlib, re, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
match = re.search(r"""\bpip\s*=\s*['"]([0-9.]+)['"]""", source.read_text())
print(match.group(1) if match else "")
PY
)"
if [ -z "$pip_pin" ]; then
  echo "setup: cannot tell which pip ansible-test $LINE_CORE pins; offline sanity tests will fail" >&2
else
  getpip="$HOME/.ansible/test/cache/get_pip_${pip_pin//./_}.py"
  if [ ! -f "$getpip" ]; then
    mkdir -p "$(dirname "$getpip")"
    cat > "$getpip" <<'PY'
"""Offline stand-in for get-pip.py: bootstrap pip with ensurepip, then pip install."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
  fi
fi

if [ "$VENV" != "$ROOT/.venv" ]; then
  echo "setup: ready (ROTOR_ANSIBLE=$line source scripts/env.sh to use it)"
  exit 0
fi
# --- Galaxy's importer, in a virtualenv of its own (default environment only) -----------------
# galaxy-importer (what Galaxy runs on every upload; tests/integration/test_galaxy_import.py runs
# it on our tarball) pins its own dependencies (attrs<24, flake8<7, an ansible-lint of its choice),
# which must not change .venv. It lives under .build/, which git, the tarball and the test
# snapshots all leave out. amazon.aws is linked into its site-packages: ansible-doc scans sys.path
# for ansible_collections/, so the importer's doc step resolves our modules' amazon.aws doc fragments.
GALAXY_IMPORTER_PINS=("galaxy-importer==0.4.44" "ansible-core>=2.19,<2.20")
GALAXY_VENV="$BUILD/galaxy-importer"
if [ ! -x "$GALAXY_VENV/bin/python" ]; then
  echo "setup: creating the galaxy-importer virtualenv with Python $py_version"
  "$PYTHON" -m venv "$GALAXY_VENV"
fi
galaxy_stamp="$GALAXY_VENV/.requirements.sha256"
galaxy_want="$(printf '%s\n' "${GALAXY_IMPORTER_PINS[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$galaxy_stamp" ] || [ "$(cat "$galaxy_stamp")" != "$galaxy_want" ]; then
  echo "setup: installing ${GALAXY_IMPORTER_PINS[*]} into $GALAXY_VENV"
  "$GALAXY_VENV/bin/python" -m pip install -q --disable-pip-version-check "${GALAXY_IMPORTER_PINS[@]}" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$GALAXY_VENV/bin/python" -c "import galaxy_importer.main" # fail loudly if the install did not work
  echo "$galaxy_want" > "$galaxy_stamp"
fi
galaxy_site="$("$GALAXY_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$galaxy_site/ansible_collections/amazon"
ln -sfn "$COLLECTIONS/amazon/aws" "$galaxy_site/ansible_collections/amazon/aws"
# --- end of Galaxy's importer ------------------------------------------------------------------
echo "setup: ready (source scripts/env.sh to use it)"
