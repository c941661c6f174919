"""Make ``ansible_collections.rotor.iam`` importable: the collections tree lives in .build/collections."""

import os
import sys

COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".build", "collections"))
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)
