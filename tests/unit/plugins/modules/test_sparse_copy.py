# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os
import stat

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _sparse, _task
from ansible_collections.hypervisor.images.plugins.module_utils._identity import read_record
from ansible_collections.hypervisor.images.plugins.modules import sparse_copy

MiB = 1024 * 1024
REAL_COPY_FILE_RANGE = os.copy_file_range


def fake_clone(src_fd, dst_fd):
    """FICLONE where the test file system cannot: the same bytes and holes."""
    size = os.fstat(src_fd).st_size
    os.ftruncate(dst_fd, size)
    for offset, length in _sparse.data_extents(src_fd, size):
        REAL_COPY_FILE_RANGE(src_fd, dst_fd, length, offset, offset)


def refuse_clone(src_fd, dst_fd):
    raise OSError(errno.EOPNOTSUPP, 'Operation not supported')


@pytest.fixture
def files(tmp_path, monkeypatch):
    # the test directory may or may not clone: make it deterministic
    monkeypatch.setattr(_sparse, 'clone', refuse_clone)
    src = tmp_path / 'base.raw'
    with open(str(src), 'wb') as handle:
        handle.truncate(8 * MiB)
        handle.seek(MiB)
        handle.write(b'boot sector' * 1000)
    os.chmod(str(src), 0o640)
    return str(src), str(tmp_path / 'disk')


def listing(path):
    return sorted(os.listdir(os.path.dirname(path)))


def content(path):
    with open(path, 'rb') as handle:
        return handle.read()


def test_copies_a_missing_dest(run_module, files):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert not out.failed and out.result['changed']
    result = out.result
    assert result['method'] == 'copy_file_range'
    assert result['bytes_copied'] == 4096 * 3
    assert result['apparent_size'] == 8 * MiB
    assert result['allocated_before'] == 0
    assert 0 < result['allocated_after'] <= 4 * 4096
    assert result['reasons'] == ['%s does not exist' % dest]
    assert result['adopted'] is False
    assert content(dest) == content(src)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640  # the source's mode
    assert read_record(dest)['settings'] == {'made_by': 'sparse_copy', 'reflinked': False}
    assert listing(dest) == ['base.raw', 'disk']


def test_four_steps(run_module, files):
    src, dest = files
    args = {'src': src, 'dest': dest}
    steps = [run_module(sparse_copy.main, args, check_mode=True), run_module(sparse_copy.main, args),
             run_module(sparse_copy.main, args), run_module(sparse_copy.main, args, check_mode=True)]
    assert [step.result['changed'] for step in steps] == [True, True, False, False]
    assert steps[0].result['bytes_copied'] == steps[1].result['bytes_copied']
    assert steps[0].result['method'] is None and steps[0].result['allocated_after'] is None
    assert steps[2].result['method'] is None and steps[2].result['bytes_copied'] == 0
    assert steps[2].result['allocated_after'] == steps[1].result['allocated_after']


def test_check_mode_creates_nothing(run_module, files):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest}, check_mode=True)
    assert out.result['changed']
    assert not os.path.exists(dest)
    assert listing(dest) == ['base.raw']


def test_changed_source_is_copied_again(run_module, files):
    src, dest = files
    run_module(sparse_copy.main, {'src': src, 'dest': dest})
    with open(src, 'r+b') as handle:
        handle.seek(4 * MiB)
        handle.write(b'new kernel')
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.result['changed']
    assert out.result['reasons'][0].startswith('the source changed')
    assert content(dest) == content(src)
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest}).result['changed']


def test_missing_source_fails_and_leaves_dest(run_module, files, tmp_path):
    src, dest = files
    run_module(sparse_copy.main, {'src': src, 'dest': dest})
    before = content(dest)
    out = run_module(sparse_copy.main, {'src': str(tmp_path / 'gone.raw'), 'dest': dest})
    assert out.failed
    assert 'gone.raw does not exist' in out.result['msg'] and dest in out.result['msg']
    assert content(dest) == before


def test_foreign_dest_that_differs_needs_force(run_module, files):
    src, dest = files
    with open(dest, 'wb') as handle:
        handle.write(b'someone else')
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed
    assert 'force: true' in out.result['msg'] and src in out.result['msg'] and dest in out.result['msg']
    assert content(dest) == b'someone else'
    forced = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'force': True})
    assert forced.result['changed'] and forced.result['reasons'] == ['force: true']
    assert content(dest) == content(src)


def test_force_always_copies(run_module, files):
    src, dest = files
    args = {'src': src, 'dest': dest, 'force': True}
    assert run_module(sparse_copy.main, args).result['changed']
    assert run_module(sparse_copy.main, args).result['changed']


def test_equal_dest_without_record_is_adopted(run_module, files):
    src, dest = files
    with open(dest, 'wb') as handle:  # equal bytes, but fully allocated and with no record
        handle.write(content(src))
    checked = run_module(sparse_copy.main, {'src': src, 'dest': dest}, check_mode=True)
    assert not checked.result['changed'] and checked.result['adopted']
    assert read_record(dest) is None
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert not out.result['changed'] and out.result['adopted'] and out.result['method'] is None
    assert read_record(dest) is not None
    again = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert not again.result['changed'] and not again.result['adopted']


def test_modified_dest_loses_its_record(run_module, files):
    src, dest = files
    run_module(sparse_copy.main, {'src': src, 'dest': dest})
    with open(dest, 'r+b') as handle:
        handle.seek(MiB)
        handle.write(b'guest wrote here')
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed and 'force: true' in out.result['msg']


def test_reflink_choice_is_recorded(run_module, files, monkeypatch):
    src, dest = files
    monkeypatch.setattr(_sparse, 'clone', fake_clone)
    cloned = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert cloned.result['method'] == 'reflink'
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'always'}).result['changed']
    uncloned = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'never'})
    assert uncloned.result['changed'] and uncloned.result['method'] == 'readwrite'
    assert uncloned.result['reasons'] == ['reflinked was True, now False']
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest}).result['changed']
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'never'}).result['changed']


def test_reflink_always_fails_clearly_where_it_cannot(run_module, files):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'always'})
    assert out.failed
    assert 'Cannot clone' in out.result['msg'] and 'reflink: auto' in out.result['msg']
    assert listing(dest) == ['base.raw']


def test_reflink_always_replaces_an_equal_foreign_dest_by_a_clone(run_module, files, monkeypatch):
    src, dest = files
    monkeypatch.setattr(_sparse, 'clone', fake_clone)
    with open(dest, 'wb') as handle:
        handle.write(content(src))
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'always'})
    assert out.result['changed'] and out.result['method'] == 'reflink'
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest, 'reflink': 'always'}).result['changed']


def test_no_space_fails_and_leaves_the_old_dest(run_module, files, monkeypatch):
    src, dest = files
    with open(dest, 'wb') as handle:
        handle.write(b'old')

    def full(*args):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(_sparse.os, 'copy_file_range', full)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'force': True})
    assert out.failed
    assert out.result['msg'].startswith('No space left for %s' % dest)
    assert 'left as it was' in out.result['msg']
    assert content(dest) == b'old'
    assert listing(dest) == ['base.raw', 'disk']


def test_source_changing_during_the_copy_fails(run_module, files, monkeypatch):
    src, dest = files

    def copy_and_touch(src_fd, dst_fd, count, offset_src, offset_dst):
        os.utime(src, ns=(1, 1))
        return REAL_COPY_FILE_RANGE(src_fd, dst_fd, count, offset_src, offset_dst)

    monkeypatch.setattr(_sparse.os, 'copy_file_range', copy_and_touch)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed and 'changed while it was being copied' in out.result['msg']
    assert listing(dest) == ['base.raw']


@pytest.mark.parametrize('kind', ['block device', 'character device'])
def test_devices_are_refused(run_module, files, monkeypatch, kind):
    src, dest = files
    real = _task.path_kind
    monkeypatch.setattr(_task, 'path_kind', lambda path: kind if path == dest else real(path))
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed
    assert 'is a %s, not a regular file' % kind in out.result['msg']
    assert 'qemu-img convert -n -O raw' in out.result['msg']


def test_directory_dest_is_refused(run_module, files, tmp_path):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': str(tmp_path)})
    assert out.failed and 'is a directory' in out.result['msg']
    assert os.path.join(str(tmp_path), 'base.raw') in out.result['msg']


def test_directory_src_is_refused(run_module, files, tmp_path):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': str(tmp_path), 'dest': dest})
    assert out.failed and 'is a directory; sparse_copy copies regular files' in out.result['msg']


def test_missing_directory_is_refused(run_module, files, tmp_path):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': str(tmp_path / 'nowhere' / 'disk')})
    assert out.failed and 'the directory %s does not exist' % (tmp_path / 'nowhere') in out.result['msg']


def test_same_file_is_refused(run_module, files):
    src, dest = files
    os.link(src, dest)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed and 'the same file' in out.result['msg']


def test_mode_is_applied(run_module, files):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'mode': '0600'})
    assert out.result['changed']
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    remoded = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'mode': '0644'})
    assert remoded.result['changed'] and remoded.result['method'] is None  # no copy for a mode change
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644
    assert not run_module(sparse_copy.main, {'src': src, 'dest': dest, 'mode': '0644'}).result['changed']


def test_diff(run_module, files):
    src, dest = files
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest}, diff=True)
    assert out.result['diff']['before'] == {'path': dest, 'state': 'absent'}
    after = out.result['diff']['after']
    assert after['state'] == 'present' and after['apparent_size'] == 8 * MiB
    assert after['source']['path'] == src
    again = run_module(sparse_copy.main, {'src': src, 'dest': dest}, diff=True)
    assert again.result['diff']['before'] == again.result['diff']['after']
    assert again.result['diff']['before']['source'] == after['source']


# -- the atomic write (through the task skeleton) ----------------------------------

def test_force_replaces_dest_atomically_and_keeps_the_source_mode(run_module, files, monkeypatch):
    src, dest = files
    with open(dest, 'wb') as handle:
        handle.write(b'old')
    seen = []
    real_write_record = _task.write_record

    def recording_write_record(written, final, record):
        seen.append((written, record['settings']))
        return real_write_record(written, final, record)

    monkeypatch.setattr(_task, 'write_record', recording_write_record)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'force': True})
    assert content(dest) == content(src)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640
    assert seen and seen[0][0].endswith('.part') and seen[0][1] == {'made_by': 'sparse_copy', 'reflinked': False}
    assert out.result['method'] == 'copy_file_range' and out.result['duration'] >= 0
    assert listing(dest) == ['base.raw', 'disk']


@pytest.mark.parametrize('code', [errno.ENOSPC, errno.EIO])
def test_a_failed_copy_leaves_dest_and_no_temp(run_module, files, monkeypatch, code):
    src, dest = files
    with open(dest, 'wb') as handle:
        handle.write(b'old')

    def refuse(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_sparse.os, 'copy_file_range', refuse)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest, 'force': True})
    assert out.failed and 'left as it was' in out.result['msg']
    assert content(dest) == b'old'
    assert listing(dest) == ['base.raw', 'disk']


def test_a_failure_before_the_rename_leaves_no_dest(run_module, files, monkeypatch):
    src, dest = files

    def refuse(written, final, record):
        raise OSError(errno.EPERM, 'Operation not permitted')

    monkeypatch.setattr(_task, 'write_record', refuse)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed and 'Operation not permitted' in out.result['msg']
    assert listing(dest) == ['base.raw']


def test_a_failed_copy_reports_no_change(run_module, files, monkeypatch):
    src, dest = files

    def refuse(*args):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(_sparse.os, 'copy_file_range', refuse)
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest})
    assert out.failed and out.result['changed'] is False


def test_check_mode_in_a_directory_the_user_cannot_write_fails_as_the_real_run(run_module, files, monkeypatch):
    src, dest = files
    real_access = os.access
    monkeypatch.setattr(_task.os, 'access', lambda path, mode: False if path == os.path.dirname(dest)
                        else real_access(path, mode))
    out = run_module(sparse_copy.main, {'src': src, 'dest': dest}, check_mode=True)
    assert out.failed and 'Cannot create the lock file' in out.result['msg']
