# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _convert, _fs
from ansible_collections.hypervisor.images.plugins.module_utils._convert import choose_cache_mode


def refuse_o_direct(monkeypatch, code):
    real_open = os.open

    def fake_open(path, flags, mode=0o777):
        if flags & os.O_DIRECT:
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, mode)

    monkeypatch.setattr(_fs.os, 'open', fake_open)


@pytest.mark.parametrize('code', [errno.EINVAL, errno.ENOENT])
def test_auto_falls_back_to_writeback_when_o_direct_is_refused(tmp_path, monkeypatch, code):
    refuse_o_direct(monkeypatch, code)
    assert choose_cache_mode('auto', str(tmp_path)) == 'writeback'
    assert os.listdir(str(tmp_path)) == []


def test_auto_uses_none_when_o_direct_works(tmp_path, monkeypatch):
    monkeypatch.setattr(_convert, 'direct_io_supported', lambda directory: True)
    assert choose_cache_mode('auto', str(tmp_path)) == 'none'


@pytest.mark.parametrize('mode', ['none', 'writeback', 'unsafe'])
def test_explicit_modes_are_kept_without_probing(tmp_path, monkeypatch, mode):
    refuse_o_direct(monkeypatch, errno.EINVAL)
    assert choose_cache_mode(mode, str(tmp_path)) == mode


def test_auto_never_picks_unsafe(tmp_path):
    assert choose_cache_mode('auto', str(tmp_path)) in ('none', 'writeback')
