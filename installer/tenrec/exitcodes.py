"""Exit codes of the tenrec command; scripts may rely on them."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # the work ran and something in it failed (a task, a node, a check)
    INVALID_CONFIG = 2  # the config has problems; nothing was touched
    NODES_NOT_READY = 3  # nodes unreachable or below requirements
    HOST_UNSUITABLE = 4  # this machine cannot do it (no podman, not root, ...)
    NOT_DEPLOYED = 5  # no deployed cloud to work on (no clouds.yaml yet): run `tenrec deploy` first
    INTERRUPTED = 130
