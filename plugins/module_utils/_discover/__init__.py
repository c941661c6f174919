# -*- coding: utf-8 -*-
# Copyright: rotor.iam contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the rotor.iam collection: not a public API, may change without notice.

"""Backend of rotor.iam.discover: the text scanners (scan), the host-side search (search) and the
controller-side join with IAM into a consumer map (consumers)."""
