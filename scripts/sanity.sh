#!/usr/bin/env bash
# Static checks: ansible-test sanity (empty ignore files) and ansible-lint (production profile), on the
# environment scripts/env.sh selects (ROTOR_ANSIBLE=NN: that line's). ROTOR_SANITY_LINT=0: ansible-test only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh

# ansible-test wants the collection at ansible_collections/rotor/iam with amazon.aws as a sibling.
# Outside the repository, so ansible-test does not list files through our .git; one tree per checkout
# and line, so lines (and worktrees) can run at the same time.
tree="${TMPDIR:-/tmp}/rotor-iam-sanity-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)-${ROTOR_ANSIBLE:-default}/ansible_collections"
amazon_aws="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/amazon/aws"
rm -rf "$tree/rotor"
mkdir -p "$tree/rotor/iam" "$tree/amazon"
if ! cmp -s "$amazon_aws/MANIFEST.json" "$tree/amazon/aws/MANIFEST.json"; then
  rm -rf "$tree/amazon/aws"
  cp -a "$amazon_aws" "$tree/amazon/aws"
fi
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
python_version="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
(cd "$tree/rotor/iam" && ansible-test sanity --local --python "$python_version" --color no "$@")

if [ "${ROTOR_SANITY_LINT:-1}" != 0 ]; then
  ansible-lint --profile production --nocolor -q
fi
