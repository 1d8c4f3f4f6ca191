"""The one exception of the matrix-element bridge, with the status name of ``matrix_element.h``."""

from __future__ import annotations

STATUS_NAMES = (
    "NIS_OK",
    "NIS_ERR_UNKNOWN_PROCESS",  # no provider knows the process, or an unknown particle name
    "NIS_ERR_BAD_PARAMETER",  # a parameter name or value the provider rejects
    "NIS_ERR_BAD_MOMENTA",  # wrong shape or dtype, NaN/inf, or momentum not conserved
    "NIS_ERR_LOAD",  # a provider library that does not load or lacks the entry point
    "NIS_ERR_INTERNAL",  # anything else
)


class BridgeError(ValueError):
    """A matrix element could not be created or evaluated.

    ``code`` is the status name (``"NIS_ERR_BAD_MOMENTA"``, ...); the message names the problem
    and the fix. Raised for errors found in Python and in C++ alike.
    """

    def __init__(self, message: str, code: str = "NIS_ERR_INTERNAL"):
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # pickles with its code (multiprocessing, pytest-xdist)
        return (type(self), (str(self), self.code))
