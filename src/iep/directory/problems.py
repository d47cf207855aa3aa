"""The problem types of the directory API: one stable `type` per thing the caller can act on."""

from __future__ import annotations

from iep.kit.problems import Problem


class AddressTaken(Problem):
    """A secondary address, or a new primary on update, that another user holds (only a create's primary is
    given a suffix instead)."""

    status, type_, title = 409, "address-taken", "The address belongs to another user"


class RegistryUnavailable(Problem):
    """The address registry did not answer in time: nothing was written (docs/adr/0007)."""

    status, type_, title = 503, "registry-unavailable", "The address registry cannot be reached; try again shortly"
