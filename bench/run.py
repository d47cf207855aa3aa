"""`make bench`: not yet measured. Prints what exists and exits non-zero so nobody mistakes it for a result."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    print("no benchmarks yet: see docs/benchmarks.md", file=sys.stderr)
    sys.exit(2)
