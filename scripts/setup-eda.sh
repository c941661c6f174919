#!/usr/bin/env bash
# ansible-rulebook (Event-Driven Ansible) for the leaked-key rulebook's tests (tests/integration/test_eda_*.py), in a
# virtualenv of its own: it pins its own dependencies (drools_jpy, a Java rules engine) and must not change .venv.
# It runs the playbooks with the ansible-playbook on PATH (.venv's), and amazon.aws's aws_sqs_queue event source needs
# aiobotocore. Java 17 (Debian's openjdk-17-jre-headless) is installed when missing. Idempotent: a second run only checks.
# ROTOR_EDA_VENV=/path puts the virtualenv elsewhere (default .build/eda); the tests read the same variable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lines.sh
source "$ROOT/scripts/lines.sh"
EDA_VENV="${ROTOR_EDA_VENV:-$ROOT/.build/eda}"
EDA_PINS=("ansible-rulebook==1.3.2" "ansible-runner==2.4.3" "aiobotocore==3.10.0" "boto3")

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  echo "setup-eda: installing Java 17 (openjdk-17-jre-headless) for ansible-rulebook"
  if [ "$(id -u)" = 0 ]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

if [ ! -x "$EDA_VENV/bin/python" ]; then
  python="$(rotor_find_python 3.12 3.13 3.11)" || { echo "setup-eda: ansible-rulebook needs Python 3.11 to 3.13: none found" >&2; exit 1; }
  echo "setup-eda: creating ${EDA_VENV#"$ROOT"/} with $python"
  mkdir -p "$(dirname "$EDA_VENV")"
  "$python" -m venv "$EDA_VENV"
fi
stamp="$EDA_VENV/.requirements.sha256"
want="$(printf '%s\n' "${EDA_PINS[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup-eda: installing ${EDA_PINS[*]} into ${EDA_VENV#"$ROOT"/}"
  "$EDA_VENV/bin/python" -m pip install -q --disable-pip-version-check "${EDA_PINS[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  "$EDA_VENV/bin/ansible-rulebook" --version >/dev/null  # fail loudly if the install (or Java) does not work
  echo "$want" > "$stamp"
fi
echo "setup-eda: ready ($EDA_VENV/bin/ansible-rulebook)"
