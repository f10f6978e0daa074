"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input the user can fix: the message names what, where, and how to fix it."""
