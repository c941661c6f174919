#!/usr/bin/env bash
# Set up the development environment from nothing but Python 3.11 and Debian:
# a virtualenv with ansible-core 2.19, boto3, moto and the test tools, and the
# amazon.aws collection taken from the `ansible` wheel on PyPI (Galaxy is not
# reachable from our machines). Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
  done
fi
ANSIBLE_WHEEL_VERSION="12.3.0"   # ships amazon.aws 10.1.x, for ansible-core 2.19
VENV="$ROOT/.venv"
BUILD="$ROOT/.build"
COLLECTIONS="$BUILD/collections/ansible_collections"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtualenv with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python requirements"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import ansible, boto3, moto" # fail loudly if the install did not work
  echo "$want" > "$stamp"
fi

# amazon.aws from the ansible wheel: only its folder is extracted.
if [ ! -f "$COLLECTIONS/amazon/aws/MANIFEST.json" ]; then
  echo "setup: fetching amazon.aws from ansible==$ANSIBLE_WHEEL_VERSION on PyPI"
  mkdir -p "$BUILD/wheels" "$COLLECTIONS"
  "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    "ansible==$ANSIBLE_WHEEL_VERSION" -d "$BUILD/wheels" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" - "$BUILD/wheels/ansible-$ANSIBLE_WHEEL_VERSION-py3-none-any.whl" "$BUILD/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    members = [n for n in archive.namelist() if n.startswith("ansible_collections/amazon/aws/")]
    archive.extractall(dest, members=members)
PY
fi

# Our collection is the repository itself, linked into the collections path.
mkdir -p "$COLLECTIONS/rotor"
ln -sfn "$ROOT" "$COLLECTIONS/rotor/iam"

# ansible-test downloads a pip bootstrap script before building venvs; offline
# we place a stand-in that uses ensurepip and the configured index instead.
getpip="$HOME/.ansible/test/cache/get_pip_24_2.py"
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
# --- Galaxy's importer, in a virtualenv of its own -------------------------------------------
# galaxy-importer (what Galaxy runs on every upload; tests/integration/test_galaxy_import.py runs
# it on our tarball) pins its own dependencies (attrs<24, flake8<7, an ansible-lint of its choice),
# which must not change .venv. It lives under .build/, which git, the tarball and the test
# snapshots all leave out. amazon.aws is linked into its site-packages: ansible-doc scans sys.path
# for ansible_collections/, so the importer's doc step resolves our modules' amazon.aws doc fragments.
GALAXY_IMPORTER_PINS=("galaxy-importer==0.4.44" "ansible-core>=2.19,<2.20")
GALAXY_VENV="$BUILD/galaxy-importer"
if [ ! -x "$GALAXY_VENV/bin/python" ]; then
  echo "setup: creating the galaxy-importer virtualenv with $PYTHON"
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
