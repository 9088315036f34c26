# Copyright (c) OpenMMLab. All rights reserved.
"""Errors of dcal_mm's checks print on one line in the tools; other errors
keep their traceback, and so does --debug / DCAL_MM_DEBUG=1."""
import sys

import pytest

from dcal_mm.utils.config_check import check_config_keys
from dcal_mm.utils.errors import install_excepthook


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.delenv('DCAL_MM_DEBUG', raising=False)
    monkeypatch.setattr(sys, 'excepthook', sys.__excepthook__)
    return lambda debug=False: (install_excepthook(debug), sys.excepthook)[1]


def _raise(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc


def test_user_error_on_one_line(hook, capsys):
    exc = _raise(lambda: check_config_keys({'modle': 1}))
    hook()(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert err.splitlines()[0] == ("ConfigKeyError: config: top-level key 'modle' (did you mean 'model'?) not read by "
                                   'the runner or the tools and not used as a variable in the config files; fix the '
                                   'spelling, or start a helper variable\'s name with "_"')
    assert 'Traceback' not in err and '--debug' in err


def test_other_errors_and_debug_keep_the_traceback(hook, capsys, monkeypatch):
    exc = _raise(lambda: int('x'))  # raised outside dcal_mm: a traceback
    hook()(type(exc), exc, exc.__traceback__)
    assert 'Traceback' in capsys.readouterr().err
    monkeypatch.setattr(sys, 'excepthook', sys.__excepthook__)
    exc = _raise(lambda: check_config_keys({'modle': 1}))
    hook(debug=True)(type(exc), exc, exc.__traceback__)
    assert 'Traceback' in capsys.readouterr().err
