#!/usr/bin/env bash
# Static checks: ansible-test sanity (empty ignore files) and ansible-lint (production profile).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

# ansible-test wants the collection at ansible_collections/rotor/iam with amazon.aws as a sibling.
# Outside the repository, so ansible-test does not list files through our .git.
tree="${TMPDIR:-/tmp}/rotor-iam-sanity/ansible_collections"
rm -rf "$tree/rotor"
mkdir -p "$tree/rotor/iam" "$tree/amazon"
[ -e "$tree/amazon/aws" ] || cp -a "$ROOT/.build/collections/ansible_collections/amazon/aws" "$tree/amazon/aws"
python - "$tree/rotor/iam" <<'PY'
import os, shutil, subprocess, sys
dest = sys.argv[1]
listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout.decode()
for name in filter(None, listing.split("\0")):
    if os.path.isfile(name):
        os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(name, os.path.join(dest, name))
PY
(cd "$tree/rotor/iam" && ansible-test sanity --local --python 3.11 --color no "$@")

ansible-lint --profile production --nocolor -q
