"""The command line's own error: bad input, reported in one line with exit status 2."""


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2."""
