"""What a customer may read of a pod's failure.

The pod workflow records its failures with their detail (host addresses, Docker's
stderr, exception text) for operators: in the workflow history, the pods table and the
worker's logs. The API shows the account only a public message chosen from the kind of
failure; the detail never leaves through a customer route.
"""

from __future__ import annotations

import re

_SNAPSHOT = re.compile(r"snapshot (\S+) refused")
# About the account's own workspace, in numbers only: shown as it is.
_WORKSPACE_FULL = re.compile(r"workspace full: \d+ MB of \d+ MB used; [a-z ()]+")

NO_INTACT_SNAPSHOT = "restore failed: no intact snapshot is left; contact support"
SNAPSHOT_REFUSED = "snapshot {id} refused as damaged; an older snapshot was used"
HIBERNATE_FAILED = "hibernate failed, the pod kept running; try again later"
RESTORE_FAILED = "restore failed; the pod stays hibernated, try again later"
POD_FAILED = "the pod could not be started; try again or contact support"


def public_pod_error(error: str | None) -> str | None:
    """The public message for a recorded pod error (None stays None)."""
    if not error:
        return None
    if _WORKSPACE_FULL.fullmatch(error):
        return error
    if error.endswith("no intact snapshot is left"):
        return NO_INTACT_SNAPSHOT
    if match := _SNAPSHOT.match(error):
        return SNAPSHOT_REFUSED.format(id=match.group(1))
    if error.startswith("hibernate failed"):
        return HIBERNATE_FAILED
    if error.startswith("restore failed"):
        return RESTORE_FAILED
    return POD_FAILED
