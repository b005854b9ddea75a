"""One exception type for every bad input, so the command line can print it as one line."""


class IlocoError(Exception):
    """A user-facing error: bad config, missing or corrupt file, failing external tool.

    The message names the culprit (key, file or command) and what is allowed instead;
    the command line prints it on one line and exits non-zero.
    """
