"""The exceptions of :mod:`nis.pdf`: each message says what was wrong and what to do about it.

All derive from :class:`PDFError`, a ``ValueError`` like the project's other error classes
(:class:`nis.config.ConfigError`, :class:`nis.bridge.BridgeError`), so ``except ValueError``
catches every bad-input case of the project; the subclasses also derive from the matching builtin
(``FileNotFoundError``, ``LookupError``) so that generic handlers work too.
"""

from __future__ import annotations


class PDFError(ValueError):
    """A parton-density set that cannot be loaded or a query it cannot answer."""


class PDFSetNotFoundError(PDFError, FileNotFoundError):
    """No directory on the search path holds the named set; ``searched`` lists every one looked in."""

    def __init__(self, message: str, searched: tuple[str, ...] = ()):
        super().__init__(message)
        self.searched = tuple(searched)

    def __reduce__(self):  # pickles with its list (multiprocessing, pytest-xdist)
        return (type(self), (str(self), self.searched))


class PDFMemberError(PDFError, FileNotFoundError):
    """The requested member is outside the set's range or its data file is not installed."""


class UnknownFlavourError(PDFError, LookupError):
    """A PDG id the set has no grid for."""


class PDFFormatError(PDFError):
    """A ``.info`` or ``.dat`` file that is not valid LHAPDF6 ``lhagrid1`` data, or a setting of the
    set (interpolator, extrapolator, alpha_s type) that this reader does not implement."""
