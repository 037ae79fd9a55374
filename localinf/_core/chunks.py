"""The row-chunk iterator (private): every pass over rows in localinf goes through it,
so memory is bounded by the chunk size, never by n."""


def row_chunks(n, size):
    """Consecutive slices covering rows ``0..n-1``, each of at most ``size`` rows.

    Parameters
    ----------
    n : int
        Number of rows.
    size : int
        Rows per chunk (values below 1 are taken as 1).

    Yields
    ------
    slice
        ``slice(start, stop)`` with ``stop - start <= size``.
    """
    size = max(1, int(size))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))
