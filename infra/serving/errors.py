"""What the online service raises; the HTTP app turns each into its status code."""


class InstanceError(ValueError):
    """A request the server cannot turn into examples (a 400 naming what is wrong)."""


class TooLarge(InstanceError):
    """A request over a limit (a 413 naming the limit)."""


class ModelError(RuntimeError):
    """The model failed on a batch (a 500 naming the version)."""
