"""The one exception a scenario or the harness raises: a one-line reason."""


class VmError(Exception):
    """Something a scenario expected did not happen; the message says what."""
