# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _atomic
from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    AtomicError,
    AtomicFile,
    DestinationLock,
    DeviceLock,
    lock_path_for,
    remove_stale_temps,
    scratch_file,
)


def listing(directory):
    return sorted(os.listdir(str(directory)))


def test_commit_replaces_destination_and_leaves_nothing_else(tmp_path):
    dest = tmp_path / 'disk.img'
    dest.write_bytes(b'old')
    with AtomicFile(str(dest)) as tmp:
        assert os.path.dirname(tmp.path) == str(tmp_path)
        assert os.path.basename(tmp.path).startswith('.disk.img.')
        assert tmp.path.endswith('.part')
        with open(tmp.path, 'wb') as handle:
            handle.write(b'new')
        assert dest.read_bytes() == b'old'
    assert dest.read_bytes() == b'new'
    assert listing(tmp_path) == ['disk.img']


def test_exception_discards_temp_and_keeps_destination(tmp_path):
    dest = tmp_path / 'disk.img'
    dest.write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with AtomicFile(str(dest)) as tmp:
            with open(tmp.path, 'wb') as handle:
                handle.write(b'half')
            raise RuntimeError('qemu-img died')
    assert dest.read_bytes() == b'old'
    assert listing(tmp_path) == ['disk.img']


def test_failing_before_rename_hook_discards(tmp_path):
    dest = tmp_path / 'disk.img'

    def hook(path):
        raise OSError('chown failed')

    with pytest.raises(OSError):
        with AtomicFile(str(dest)) as tmp:
            tmp.commit(before_rename=hook)
    assert listing(tmp_path) == []


def test_commit_syncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(_atomic, 'fsync_path', lambda path: synced.append(('file', path)))
    monkeypatch.setattr(_atomic, 'fsync_directory', lambda path: synced.append(('dir', path)))
    dest = tmp_path / 'x'
    with AtomicFile(str(dest)) as tmp:
        temp = tmp.path
    assert synced == [('file', temp), ('dir', str(tmp_path))]


def test_before_rename_sees_synced_temp(tmp_path):
    seen = []
    with AtomicFile(str(tmp_path / 'x')) as tmp:
        tmp.commit(before_rename=seen.append)
    assert seen and seen[0].endswith('.part')
    assert listing(tmp_path) == ['x']


def test_new_file_gets_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        with AtomicFile(str(tmp_path / 'x')):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(tmp_path / 'x')).st_mode) == 0o640


def test_explicit_mode(tmp_path):
    with AtomicFile(str(tmp_path / 'x'), mode=0o600):
        pass
    assert stat.S_IMODE(os.stat(str(tmp_path / 'x')).st_mode) == 0o600


def test_missing_directory_gives_clear_error(tmp_path):
    with pytest.raises(AtomicError, match='Cannot create a temporary file in .*nodir'):
        AtomicFile(str(tmp_path / 'nodir' / 'x')).create()


def test_stale_temps_are_removed_only_for_this_destination(tmp_path):
    for name in ('.disk.abcd_123.part', '.disk.zzzzzzzz.part', '.other.abcdefgh.part', 'disk',
                 '.disk.toolongname.part', '.disk.abcdefgh.part.keep', '.disk.ABCDEFGH.part'):
        (tmp_path / name).write_bytes(b'')
    removed = remove_stale_temps(str(tmp_path / 'disk'))
    assert sorted(os.path.basename(p) for p in removed) == ['.disk.abcd_123.part', '.disk.zzzzzzzz.part']
    assert listing(tmp_path) == ['.disk.ABCDEFGH.part', '.disk.abcdefgh.part.keep', '.disk.toolongname.part',
                                 '.other.abcdefgh.part', 'disk']


def test_temp_of_a_killed_writer_is_found_by_the_next_one(tmp_path):
    killed = AtomicFile(str(tmp_path / 'disk')).create()  # never committed nor discarded
    assert remove_stale_temps(str(tmp_path / 'disk')) == [killed.path]
    assert listing(tmp_path) == []


def test_lock_is_removed_on_release(tmp_path):
    dest = str(tmp_path / 'disk')
    with DestinationLock(dest) as lock:
        assert lock.held
        assert os.path.exists(lock_path_for(dest))
        assert os.path.basename(lock.path) == '.disk.lock'
    assert listing(tmp_path) == []


def _hold(dest, seconds, started):
    with DestinationLock(dest):
        started.set()
        time.sleep(seconds)


def test_lock_timeout_names_the_destination(tmp_path):
    dest = str(tmp_path / 'disk')
    started = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(dest, 3, started))
    holder.start()
    try:
        assert started.wait(10)
        with pytest.raises(AtomicError, match='another task is writing .*disk'):
            DestinationLock(dest, timeout=0.3).acquire()
    finally:
        holder.join()


def _append_under_lock(dest, log, rounds):
    for dummy in range(rounds):
        with DestinationLock(dest):
            with open(log, 'a') as handle:
                handle.write('start\n')
                handle.flush()
                time.sleep(0.002)
                handle.write('end\n')


def test_lock_serialises_processes_even_when_the_lock_file_is_removed(tmp_path):
    dest, log = str(tmp_path / 'disk'), str(tmp_path / 'log')
    workers = [multiprocessing.Process(target=_append_under_lock, args=(dest, log, 30)) for dummy in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    with open(log) as handle:
        lines = handle.read().split()
    assert len(lines) == 4 * 30 * 2
    assert lines == ['start', 'end'] * (4 * 30)
    assert not os.path.exists(lock_path_for(dest))


def test_lock_where_no_directory_can_be(tmp_path):
    (tmp_path / 'file').write_bytes(b'')
    with pytest.raises(AtomicError, match='Cannot create the lock file .*file/.x.lock'):
        DestinationLock(str(tmp_path / 'file' / 'x')).acquire()


def test_device_lock_is_exclusive(tmp_path):
    path = str(tmp_path / 'dev')
    open(path, 'wb').close()
    with DeviceLock(path):
        with pytest.raises(AtomicError) as excinfo:
            with DeviceLock(path, timeout=0.3, poll_interval=0.1):
                pass
    assert 'another process holds its lock' in excinfo.value.msg
    with DeviceLock(path):
        pass
    assert os.listdir(str(tmp_path)) == ['dev']


def test_scratch_file_is_removed_on_leaving_and_on_failure(tmp_path):
    dest = str(tmp_path / 'disk.img')
    with scratch_file(dest) as path:
        assert os.path.basename(path).startswith('.disk.img.') and path.endswith('.part')
        assert os.path.dirname(path) == str(tmp_path)
    assert listing(tmp_path) == []
    with pytest.raises(RuntimeError):
        with scratch_file(dest) as path:
            raise RuntimeError('boom')
    assert listing(tmp_path) == []


def test_scratch_file_renamed_into_an_atomic_file_keeps_its_data(tmp_path):
    dest = str(tmp_path / 'disk.img')
    with scratch_file(dest) as path:
        with open(path, 'wb') as handle:
            handle.write(b'data')
        with AtomicFile(dest) as tmp:
            os.rename(path, tmp.path)
    assert listing(tmp_path) == ['disk.img']
    assert open(dest, 'rb').read() == b'data'


def test_a_scratch_file_left_by_a_killed_run_is_stale(tmp_path):
    dest = str(tmp_path / 'disk.img')
    with scratch_file(dest) as path:
        assert remove_stale_temps(dest) == [path]


# --- a run stopped by a signal cleans up ------------------------------------

_WRITER = '''
import sys, time
from ansible_collections.hypervisor.images.plugins.module_utils._atomic import AtomicFile, DestinationLock
from ansible_collections.hypervisor.images.plugins.module_utils._run import run_command
dest, command = sys.argv[1], sys.argv[2] == 'command'
with DestinationLock(dest):
    with AtomicFile(dest) as tmp:
        with open(tmp.path, 'wb') as handle:
            handle.write(b'x' * 65536)
        print('ready', flush=True)
        if command:
            run_command(['sleep', '30'])
        time.sleep(30)
'''


def _collections_path():
    here = os.path.dirname(os.path.abspath(_atomic.__file__))
    return os.path.abspath(os.path.join(here, '..', '..', '..', '..', '..'))


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT', 'SIGHUP'])
def test_a_signal_removes_the_temporary_file_and_the_lock_file(tmp_path, signame):
    dest = str(tmp_path / 'image.qcow2')
    proc = subprocess.Popen([sys.executable, '-c', _WRITER, dest, 'sleep'], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=_collections_path()))
    assert proc.stdout.readline().strip() == 'ready'
    assert len(os.listdir(str(tmp_path))) == 2  # the temporary file and the lock file
    proc.send_signal(getattr(signal, signame))
    assert proc.wait(timeout=10) == -getattr(signal, signame)
    assert os.listdir(str(tmp_path)) == []


def test_while_a_command_runs_the_lock_file_stays_for_the_next_writer(tmp_path):
    dest = str(tmp_path / 'image.qcow2')
    proc = subprocess.Popen([sys.executable, '-c', _WRITER, dest, 'command'], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=_collections_path()))
    assert proc.stdout.readline().strip() == 'ready'
    time.sleep(0.3)  # sleep(1) is running and holds the lock too
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert os.listdir(str(tmp_path)) == ['.image.qcow2.lock']


def test_signals_deferred_holds_a_signal_back_until_the_block_has_run():
    seen = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: seen.append(signum))
    try:
        with _atomic.signals_deferred():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
            assert seen == []
        assert seen == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_the_hidden_name_of_an_entry_being_removed_is_a_leftover_of_it(tmp_path):
    dest = str(tmp_path / 'base.raw')
    assert _atomic.removing_path_for(dest) == str(tmp_path / '.base.raw.removing')
    assert _atomic.leftover_of(_atomic.removing_path_for(dest)) == ('removal', dest)
