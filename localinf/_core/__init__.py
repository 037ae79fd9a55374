"""Shared helpers of every layer (private): input checks at the public boundary,
the one row-chunk iterator, atomic file output and validated options."""
