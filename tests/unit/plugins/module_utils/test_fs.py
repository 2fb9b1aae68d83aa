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


MOUNTINFO = '\n'.join([
    '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '23 22 0:21 / /proc rw,nosuid - proc proc rw',
    '30 22 0:30 / /var/lib/nova rw shared:5 - tmpfs tmpfs rw,size=16384k',
    '31 30 253:16 / /var/lib/nova/instances rw master:2 - xfs /dev/mapper/vg-nova rw',
    '32 22 0:31 / /srv/with\\040space rw - tmpfs my\\040tmpfs rw',
    '33 30 0:40 / /var/lib/nova rw - tmpfs second rw',
    'a line that is not a mount entry',
    '34 22 0:41 / /srv/nova-old rw - ext4 /dev/vdb rw',
])


def test_parse_mountinfo_reads_fields_and_escapes():
    entries = _fs.parse_mountinfo(MOUNTINFO)
    assert len(entries) == 7
    assert entries[0] == {'mount_point': '/', 'dev': '253:0', 'fstype': 'ext4', 'device': '/dev/vda'}
    assert entries[3]['fstype'] == 'xfs' and entries[3]['device'] == '/dev/mapper/vg-nova'
    assert entries[4]['mount_point'] == '/srv/with space' and entries[4]['device'] == 'my tmpfs'


def test_parse_mountinfo_optional_fields_vary():
    # zero, one or several optional fields before the separator
    text = '40 1 0:50 / /a rw - tmpfs t1 rw\n41 1 0:51 / /b rw shared:1 master:2 propagate_from:3 - xfs t2 rw'
    assert [(e['mount_point'], e['fstype'], e['device']) for e in _fs.parse_mountinfo(text)] == [
        ('/a', 'tmpfs', 't1'), ('/b', 'xfs', 't2')]


@pytest.fixture
def mountinfo(tmp_path, monkeypatch):
    table = tmp_path / 'mountinfo'
    table.write_text(MOUNTINFO)
    # the paths looked up are not on this machine: resolve them as they are
    monkeypatch.setattr(_fs, 'nearest_existing', lambda path: path)
    monkeypatch.setattr(_fs.os.path, 'realpath', lambda path: path)
    return str(table)


@pytest.mark.parametrize('path, mount_point, device, fstype', [
    ('/var/lib/nova/instances/_base/x', '/var/lib/nova/instances', '/dev/mapper/vg-nova', 'xfs'),
    ('/var/lib/nova/instances', '/var/lib/nova/instances', '/dev/mapper/vg-nova', 'xfs'),
    ('/var/lib/nova/locks', '/var/lib/nova', 'second', 'tmpfs'),  # mounted over: the last one wins
    ('/var/lib/novastuff', '/', '/dev/vda', 'ext4'),  # a common prefix is not a parent
    ('/srv/with space/disk', '/srv/with space', 'my tmpfs', 'tmpfs'),
    ('/', '/', '/dev/vda', 'ext4'),
])
def test_mount_of_picks_the_longest_containing_mount_point(mountinfo, path, mount_point, device, fstype):
    assert _fs.mount_of(path, mountinfo) == {'mount_point': mount_point, 'device': device, 'fstype': fstype}


def test_mount_of_without_a_mount_table(tmp_path):
    assert _fs.mount_of(str(tmp_path), str(tmp_path / 'no-such-table')) == {
        'mount_point': None, 'device': None, 'fstype': None}


def test_mount_of_this_machine(tmp_path):
    found = _fs.mount_of(str(tmp_path / 'not' / 'yet'))
    assert found['mount_point'] is not None
    assert str(tmp_path).startswith(found['mount_point'])
    assert found['fstype']
