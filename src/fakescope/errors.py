"""Errors a user can act on: each carries a one-line message that the CLI prints instead of a traceback."""


class FakescopeError(Exception):
    """Base class: the message is meant for the person who ran the command."""


class MediaError(FakescopeError):
    """The file is missing, empty, truncated, or not an image or video we can decode."""


class ModelError(FakescopeError):
    """A model name is unknown or a model file cannot be loaded."""


class OptionError(FakescopeError, TypeError):
    """An option name that does not exist or a value it cannot take; raised before anything is loaded.
    Also a TypeError, as Python raises for an unknown keyword argument."""
