"""The `iep` command: the CLI loaded with Python's cyclic collector paused.

Loading IEP allocates hundreds of thousands of long-lived objects, and the collector walks the growing heap again
and again on the way: ~15 % of a role's start-up CPU. `iep run` keeps it paused through the role's own imports
and set-up, then freezes what start-up made and turns it back on (`runtime.run_role`).
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    from iep.entrypoints.cli import main as cli

    gc.enable()
    cli()
