# Copyright (c) OpenMMLab. All rights reserved.
"""One-line errors for the command-line tools.

dcal_mm's checks (bad config keys, checkpoints, data, non-finite training...)
raise an exception whose message says what is wrong and what was expected;
the 20-60 lines of traceback above it only bury that line. The tools install
:func:`install_excepthook`, which prints such an exception as
``ErrorType: message`` and a hint, and everything else (a bug, an error of
another library) with its full traceback. ``--debug`` in the tools or the
environment variable ``DCAL_MM_DEBUG=1`` keeps the traceback for every error.
"""
import os
import os.path as osp
import sys
from typing import Optional

DEBUG_ENV = 'DCAL_MM_DEBUG'
_PACKAGE_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_REPO_DIR = osp.dirname(_PACKAGE_DIR)
_OUR_DIRS = tuple(osp.join(d, '') for d in (_PACKAGE_DIR, osp.join(_REPO_DIR, 'tools'), osp.join(_REPO_DIR, 'demo')))
# the kinds of exception our checks raise (ValueError, KeyError, OSError, FloatingPointError, RuntimeError and
# their subclasses); a TypeError / AttributeError / AssertionError raised in our code is a bug: traceback
USER_ERROR_TYPES = (ValueError, KeyError, OSError, FloatingPointError, RuntimeError)


def _raised_in(tb) -> Optional[str]:
    """The file of the innermost frame of a traceback."""
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return None if last is None else osp.abspath(last.tb_frame.f_code.co_filename)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or the exception it re-raises, as MMEngine's registry
    does when building a class) was raised by one of dcal_mm's checks.

    Args:
        exc (BaseException): The exception.

    Returns:
        bool: True for an exception of :data:`USER_ERROR_TYPES` raised in
        ``dcal_mm/``, ``tools/`` or ``demo/``.
    """
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, USER_ERROR_TYPES) and not isinstance(exc, (NotImplementedError, RecursionError)):
            where = _raised_in(exc.__traceback__)
            if where is not None and where.startswith(_OUR_DIRS):
                return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def format_user_error(exc: BaseException) -> str:
    """``ErrorType: message`` on one line (a KeyError's message unquoted)."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return f'{type(exc).__name__}: {" ".join(str(message).split())}'


def install_excepthook(debug: bool = False) -> None:
    """Print errors raised by dcal_mm's checks without a traceback.

    Args:
        debug (bool): Keep the traceback for every error (``--debug``); the
            environment variable ``DCAL_MM_DEBUG=1`` does the same.
    """
    if debug or os.environ.get(DEBUG_ENV, '') not in ('', '0'):
        return
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        if exc is not None and is_user_error(exc):
            sys.stderr.write(f'{format_user_error(exc)}\n(the traceback: run again with --debug or {DEBUG_ENV}=1)\n')
            sys.stderr.flush()
        else:
            previous(exc_type, exc, tb)

    sys.excepthook = excepthook

