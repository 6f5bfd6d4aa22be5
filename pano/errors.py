"""The pano exception hierarchy.

Every error a user can cause derives from :class:`PanoError` *and* the matching
built-in, so ``except FileNotFoundError`` keeps working for callers who do not
know pano. Messages are meant to be printed as one line by the CLI: they name
the file, the field and what to change.
"""

from __future__ import annotations


class PanoError(Exception):
    """Base class of all errors pano raises on purpose (bad input, bad config, ...)."""


class ConfigError(PanoError, ValueError):
    """A configuration file, environment override or ``--set`` value is invalid."""


class InputDataError(PanoError, ValueError):
    """An input data file (``.mat``, gaze trace, CSV, ...) has the wrong shape or values."""


class InputFileNotFoundError(PanoError, FileNotFoundError):
    """An input file or folder named by the user does not exist."""


class VideoError(PanoError, OSError):
    """A video cannot be opened or decoded, or is shorter than its data."""


class StoreNotFoundError(PanoError, FileNotFoundError):
    """No pano store exists at the given path or URL."""


class StoreError(PanoError, ValueError):
    """A store exists but does not have the expected layout, group or schema version."""


class StoreExistsError(PanoError, FileExistsError):
    """A store or group already exists and ``--overwrite`` was not given."""


class ShapeError(PanoError, ValueError):
    """A tensor or array argument has the wrong shape, dtype or device."""


class DeviceError(PanoError, RuntimeError):
    """A requested compute device (e.g. CUDA) is not available here."""


class CheckpointError(PanoError, RuntimeError):
    """A checkpoint is missing, incomplete or does not match the model/config."""


class UnknownNameError(PanoError, ValueError):
    """A name (metric, profile, mode, ...) pano does not know; the message lists the valid ones."""


class ParameterError(PanoError, ValueError):
    """An argument's value is outside its valid range; the message names it and the range."""


class UnknownKeyError(UnknownNameError, KeyError):
    """A name looked up like a mapping key (e.g. a video of a synthetic manifest) is absent.

    Also a ``KeyError``, and printed as its plain message (``KeyError`` alone would quote it).
    """

    def __str__(self) -> str:
        return Exception.__str__(self)


class UnsupportedError(PanoError, TypeError):
    """An operation pano does not support on this object (e.g. pickling an open decoder).

    The message says what to do instead.
    """


class MetricInputError(PanoError, TypeError):
    """A metric got the wrong kind of input (e.g. a density map where fixations are needed)."""


class UnknownMetricError(UnknownNameError, MetricInputError):
    """A metric name is not in :data:`pano.metrics.registry.METRICS` (the message lists them).

    Also a :class:`MetricInputError`, so callers that caught that for unknown names still do.
    """


class StoreLockedError(PanoError, RuntimeError):
    """Another process holds the store's write lock (see ``pano.stores.lock``)."""


class InvalidNameError(PanoError, ValueError):
    """A video, run or results name breaks pano's name rule (``pano.stores.names``)."""


class StoreChangedError(PanoError, RuntimeError):
    """The store was written (its generation changed) while a reader used it."""


class NoVideoError(PanoError, ValueError):
    """The store holds traces only (ingested without ``--videos``) and the command needs frames."""


class OutputExistsError(PanoError, FileExistsError):
    """An output file (not a store) exists and ``--overwrite`` was not given."""
