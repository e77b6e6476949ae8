"""The audit's worst-case points on disk, so memory does not grow with inputs x eps x input size.

One file holds ``slots x N`` rows of one input's size: slot ``e`` keeps the point that broke input
``i`` at eps index ``e`` (written once, when it broke), the slots after the eps grid keep each
minimum-norm attack's points. Reads and writes go through the file (``os.pread``/``os.pwrite``),
not a memory map, so the points live in the page cache and never in the process's memory; the file
is sparse until written. Only rank 0 of a distributed audit has one.
"""

from __future__ import annotations

from feint.data.rowfile import RowFile


class PointStore(RowFile):
    """The worst-case points: ``slots`` = the eps grid, then one slot per minimum-norm attack; ``n`` inputs."""
