"""The one exception type for mistakes a user can make."""


class UserError(Exception):
    """A problem with the user's input: a flag, a file, a line, a column.

    The message names where the problem is (the flag, or `file:line`) and what to do.
    Entry modules print it as one line and exit with status 1, without a traceback.
    """


def first_line(error):
    """The first line of an exception's message (or its type name), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
