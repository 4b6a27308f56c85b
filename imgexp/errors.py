"""Errors that are the user's to fix (a bad value, missing data, an untrusted config): the
command line prints them as a short message naming the problem and the fix, without a Python
traceback (``HYDRA_FULL_ERROR=1`` shows it). Every other exception is a bug or a crash and
keeps its traceback.

`imgexp.tracking` sits below this layer, so its `TrackingStoreError` is not a subclass; the
command line treats it as a user error by name (imgexp/cli/failure.py)."""

from __future__ import annotations


class UserError(Exception):
    """Base of every error the user fixes by changing the command, the config or the data."""


class ConfigError(UserError, ValueError):
    """A config value out of its valid range, a missing config directory, a config that does
    not fit the schemas (raised before TensorFlow is imported)."""


class UntrustedTargetError(ConfigError):
    """A logged config names a ``_target_`` outside imgexp's allowlist (imgexp/targets.py)."""


class DataNotFoundError(UserError, FileNotFoundError):
    """A dataset's files are not where the config says (or anywhere imgexp looks)."""


class ClassesNotFoundError(DataNotFoundError, ValueError):
    """``dataset.classes`` names class folders the dataset on disk does not have (still a
    ValueError, as it was before it counted as missing data)."""


class WeightsNotFoundError(DataNotFoundError):
    """Pretrained weights (``model.weights=imagenet``) neither in Keras' cache nor
    downloadable: missing data of the model."""


class DownloadError(UserError, RuntimeError):
    """``dataset.download=true`` could not fetch, verify or unpack a dataset (offline, a
    corrupt or truncated file, a bad checksum): nothing was cached, and the message says how
    to get the data by hand."""
