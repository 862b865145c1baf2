"""Exceptions: every failure of libh4mk arrives as an :class:`Error` carrying
the library's code (``"corrupt"``, ``"truncated"``, ...) and, where the
failure is about a byte of the file, its offset."""

from __future__ import annotations


class Error(Exception):
    """A failure reported by libh4mk.

    Attributes:
        code: the library's error code name, e.g. ``"crc_mismatch"``.
        offset: the file offset the error is about, or None.
    """

    code: str = "internal"

    def __init__(self, message: str, code: str | None = None, offset: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.offset = offset


class FormatError(Error, ValueError):
    """The bytes are not a valid H4MK file (bad magic, corrupt, CRC mismatch,
    truncated, a limit exceeded, an unsupported version)."""


class NotFound(Error, LookupError):
    """No such track, block or seek target."""


class InvalidArgument(Error, ValueError):
    """An argument the library refuses (a bad block type, a key of the wrong size, ...)."""


class KeyMismatch(Error):
    """A mask key that is not the track's, or a masked block or signature that
    does not verify."""


class AuthFailed(KeyMismatch):
    """A signature that does not hold for the key given (an unsigned file,
    another key), or a masked block that does not authenticate."""


class VerifyFailed(Error):
    """Bytes of a signed file that do not match their signed digest: a
    verifying :class:`h4mk.Reader` hands out nothing of them."""


class IOFailure(Error, OSError):
    """Reading or writing the underlying file failed."""


class DamageWarning(UserWarning):
    """Iterating a :class:`h4mk.Reader` met damaged regions of the file,
    whose blocks were skipped (or handed out marked ``damaged``): warned
    once the iteration ends; ``Reader.damage`` lists them. Make it an error
    with ``warnings.simplefilter("error", h4mk.DamageWarning)``."""


_BY_CODE = {
    "bad_magic": FormatError,
    "unsupported_version": FormatError,
    "crc_mismatch": FormatError,
    "corrupt": FormatError,
    "limit_exceeded": FormatError,
    "truncated": FormatError,
    "not_found": NotFound,
    "invalid_argument": InvalidArgument,
    "key_mismatch": KeyMismatch,
    "auth_failed": AuthFailed,
    "verify_failed": VerifyFailed,
    "io": IOFailure,
}


def from_code(code: str, message: str, offset: int | None) -> Error:
    """The exception for a library error code (used by the native module)."""
    return _BY_CODE.get(code, Error)(message, code, offset)
