"""Row blocks for NumPy-side diagnostics, so their temporaries stay small next to the features."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["row_blocks", "times_transpose"]

# 4 MiB of float64: a few such temporaries stay small next to the features, and the blocks are
# still large enough that the Python loop over them costs nothing measurable.
_BLOCK_ELEMENTS = 1 << 19


def row_blocks(num_rows: int, row_size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(num_rows)`` holding about ``2**19`` elements each (at least one row)."""
    step = max(1, _BLOCK_ELEMENTS // max(1, row_size))
    for start in range(0, num_rows, step):
        yield slice(start, start + step)


def times_transpose(rows, matrix):
    """``rows @ matrix.T`` for a block of rows and a few-row ``matrix`` (logits ``H W^T``), computed as
    ``(matrix @ rows.T).T``: the same product, which BLAS runs about twice as fast in this shape."""
    return (matrix @ rows.T).T
