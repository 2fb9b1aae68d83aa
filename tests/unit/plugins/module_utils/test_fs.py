# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _fs


def test_path_kind(tmp_path):
    (tmp_path / 'f').write_bytes(b'')
    os.mkfifo(str(tmp_path / 'p'))
    assert _fs.path_kind(str(tmp_path / 'f')) == _fs.FILE
    assert _fs.path_kind(str(tmp_path)) == _fs.DIRECTORY
    assert _fs.path_kind(str(tmp_path / 'missing')) == _fs.MISSING
    assert _fs.path_kind(str(tmp_path / 'p')) == _fs.OTHER
    assert _fs.path_kind('/dev/null') == _fs.CHAR_DEVICE


def test_nearest_existing(tmp_path):
    assert _fs.nearest_existing(str(tmp_path / 'a' / 'b' / 'c')) == str(tmp_path)
    assert _fs.nearest_existing(str(tmp_path)) == str(tmp_path)


def test_direct_io_probe_on_a_real_directory_leaves_nothing(tmp_path):
    assert _fs.direct_io_supported(str(tmp_path)) in (True, False)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('code', [errno.EINVAL, errno.ENOENT])
def test_direct_io_refused(tmp_path, monkeypatch, code):
    real_open = os.open

    def refusing_open(path, flags, mode=0o777):
        if flags & os.O_DIRECT:
            real_open(path, os.O_CREAT | os.O_WRONLY, mode)  # a file may be left behind by a failed open
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, mode)

    monkeypatch.setattr(_fs.os, 'open', refusing_open)
    assert _fs.direct_io_supported(str(tmp_path)) is False
    assert os.listdir(str(tmp_path)) == []


def test_direct_io_write_refused(tmp_path, monkeypatch):
    def refusing_write(fd, data):
        raise OSError(errno.EINVAL, 'Invalid argument')

    monkeypatch.setattr(_fs.os, 'write', refusing_write)
    assert _fs.direct_io_supported(str(tmp_path)) is False
    assert os.listdir(str(tmp_path)) == []


def test_direct_io_other_errors_are_raised(tmp_path, monkeypatch):
    def denied(path, flags, mode=0o777):
        raise OSError(errno.EACCES, 'Permission denied')

    monkeypatch.setattr(_fs.os, 'open', denied)
    with pytest.raises(OSError):
        _fs.direct_io_supported(str(tmp_path))


def test_fs_usage(tmp_path):
    usage = _fs.fs_usage(str(tmp_path / 'not' / 'yet'))
    st = os.statvfs(str(tmp_path))
    assert usage['total'] == st.f_frsize * st.f_blocks
    assert 0 <= usage['free'] <= usage['total']
    assert usage['used'] == st.f_frsize * (st.f_blocks - st.f_bfree)
