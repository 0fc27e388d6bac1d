"""The failures BAT reports to a person as one clear message instead of a traceback, and the
exit codes of the command line."""

#: exit codes: success; the command ran and reports a failure; bad usage or bad config
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message says where and how to fix it."""


class UsageError(ValueError):
    """Bad command-line arguments (exit code 2); the message says which and what is allowed."""
