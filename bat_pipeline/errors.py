"""The failures BAT reports to a person as one clear message instead of a traceback, and the
exit codes of the command line."""

import re

#: exit codes: success; the command ran and reports a failure; bad usage or bad config
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message says where and how to fix it."""


class UsageError(ValueError):
    """Bad command-line arguments (exit code 2); the message says which and what is allowed."""


#: the password of a URL (the part after `user:` before `@host`): never printed or logged
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@\"']+:)[^/\s@\"']+@", re.IGNORECASE)


def redacted(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (a tracking or database
    URI with credentials may end up in an error message)."""
    return _URL_PASSWORD.sub(r"\1***@", text)
