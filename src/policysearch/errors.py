"""The one exception users see: its message is a single line naming the file or field and the fix."""


class PolicySearchError(Exception):
    """A user-facing problem (bad input, missing index); the CLI prints it as one line."""
