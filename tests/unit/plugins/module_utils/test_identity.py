# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _identity
from ansible_collections.hypervisor.images.plugins.module_utils._identity import (
    XATTR_NAME,
    compare_record,
    read_record,
    remove_record,
    sidecar_path,
    source_record,
    write_record,
)


@pytest.fixture
def files(tmp_path):
    src = tmp_path / 'src.raw'
    dest = tmp_path / 'dest.qcow2'
    src.write_bytes(b'source data')
    dest.write_bytes(b'converted')
    return str(src), str(dest)


def test_round_trip_through_xattr(files):
    src, dest = files
    wanted = source_record(src, dest_format='qcow2', compress=False)
    assert write_record(dest, dest, wanted) == 'xattr'
    assert XATTR_NAME in os.listxattr(dest)
    stored = read_record(dest)
    assert compare_record(stored, source_record(src, dest_format='qcow2', compress=False)) == []
    assert not os.path.exists(sidecar_path(dest))


def test_record_written_on_temp_holds_after_rename(tmp_path, files):
    src, dest = files
    tmp = str(tmp_path / '.dest.qcow2.abcdefgh.part')
    with open(tmp, 'wb') as handle:
        handle.write(b'new conversion')
    write_record(tmp, dest, source_record(src))
    os.rename(tmp, dest)
    assert compare_record(read_record(dest), source_record(src)) == []


def test_changed_source_is_reported(files):
    src, dest = files
    write_record(dest, dest, source_record(src))
    with open(src, 'ab') as handle:
        handle.write(b'more')
    reasons = compare_record(read_record(dest), source_record(src))
    assert reasons == ['the source changed (mtime_ns, size)']


def test_changed_settings_are_reported(files):
    src, dest = files
    write_record(dest, dest, source_record(src, compress=False))
    reasons = compare_record(read_record(dest), source_record(src, compress=True))
    assert reasons == ['compress was False, now True']


def test_other_source_path_is_reported(tmp_path, files):
    src, dest = files
    other = tmp_path / 'other.raw'
    other.write_bytes(b'x')
    write_record(dest, dest, source_record(src))
    assert compare_record(read_record(dest), source_record(str(other))) == ['it was made from %s' % src]


def test_modified_destination_loses_its_record(files):
    src, dest = files
    write_record(dest, dest, source_record(src))
    with open(dest, 'ab') as handle:
        handle.write(b'guest wrote here')
    assert read_record(dest) is None
    assert compare_record(None, source_record(src))


def test_sidecar_where_xattrs_are_refused(files, monkeypatch):
    src, dest = files

    def refuse(*args):
        raise OSError(errno.EOPNOTSUPP, 'Operation not supported')

    monkeypatch.setattr(_identity.os, 'setxattr', refuse)
    monkeypatch.setattr(_identity.os, 'getxattr', refuse)
    assert write_record(dest, dest, source_record(src)) == 'sidecar'
    assert os.path.basename(sidecar_path(dest)) == '.dest.qcow2.source.json'
    assert compare_record(read_record(dest), source_record(src)) == []
    remove_record(dest)
    assert read_record(dest) is None


def test_garbage_record_is_ignored(files):
    src, dest = files
    os.setxattr(dest, XATTR_NAME, b'not json')
    assert read_record(dest) is None
    os.setxattr(dest, XATTR_NAME, b'{"version": 99}')
    assert read_record(dest) is None


def test_unexpected_xattr_errors_are_raised(files, monkeypatch):
    src, dest = files

    def broken(*args):
        raise OSError(errno.EIO, 'I/O error')

    monkeypatch.setattr(_identity.os, 'setxattr', broken)
    with pytest.raises(OSError):
        write_record(dest, dest, source_record(src))


def test_identity_override(files):
    src, dest = files
    snap = {'inode': os.stat(src).st_ino, 'snapshot_id': '1', 'date_sec': 5}
    write_record(dest, dest, source_record(src, identity=snap, dest_format='raw'))
    with open(src, 'ab') as handle:
        handle.write(b'the image around the snapshot changes')
    assert compare_record(read_record(dest), source_record(src, identity=snap, dest_format='raw')) == []
    other = dict(snap, date_sec=6)
    assert compare_record(read_record(dest), source_record(src, identity=other, dest_format='raw')) == [
        'the source changed (date_sec)']


def test_block_device_identity_uses_its_size(monkeypatch, tmp_path):
    image = tmp_path / 'backing'
    image.write_bytes(b'\0' * 4096)
    real_stat = os.stat

    class DeviceStat:
        def __init__(self, st):
            self.st_mode = 0o060660
            self.st_rdev = 0x0803
            self.st_dev, self.st_ino, self.st_size, self.st_mtime_ns = st.st_dev, st.st_ino, 0, st.st_mtime_ns

    monkeypatch.setattr(_identity.os, 'stat', lambda path: DeviceStat(real_stat(path)))
    assert _identity.file_identity(str(image)) == {'size': 4096, 'mtime_ns': None, 'inode': None, 'device': 0x0803}
