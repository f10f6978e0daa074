"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input the user can fix: the message names what, where, and how to fix it."""


def brief(error: BaseException | str, limit: int = 200) -> str:
    """An error's text for a one-line message: its first non-blank line, spaces collapsed, cut at
    `limit`; the exception's type name when it has no text."""
    line = next((" ".join(x.split()) for x in str(error).splitlines() if x.strip()), "")
    line = line or (type(error).__name__ if isinstance(error, BaseException) else "no details")
    return line if len(line) <= limit else line[:limit] + "..."
