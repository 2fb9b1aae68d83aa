# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Atomic replacement of files and a lock per destination.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

A produced file is written under a temporary name in the destination's own
directory (so the final rename never crosses a file system), synced, renamed
over the destination and the directory entry synced. On any failure the
temporary file is removed and an existing destination stays untouched.

Writers of one destination serialise on ``.NAME.lock`` beside it, block
devices on a lock of the device node itself; both are one :class:`Lock`. The
lock file is removed on release; waiters check that the file they locked is
still the one on disk, so removal cannot let two writers in at once. While a
writer holds the lock, no other writer can own a temporary file for that
destination, so leftovers of killed runs can be removed safely.

A run stopped by SIGTERM, SIGINT (Ctrl-C) or SIGHUP (its SSH connection lost)
cleans up before it ends: while it owns a temporary file or a lock, handlers of
those signals remove its temporary files and, unless a command it started is
still running (which holds the locks too, and dies with it), its lock files;
then the signal ends the process as it would have. Only SIGKILL leaves them for
the next writer, which removes them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import signal
import tempfile
import threading
import time

from ansible_collections.hypervisor.images.plugins.module_utils._fs import default_file_mode
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError, commands_running, forget, inherit

TEMP_SUFFIX = '.part'
LOCK_SUFFIX = '.lock'
#: the hidden name a cache entry has while image_cache_prune removes it (.NAME.removing)
REMOVING_SUFFIX = '.removing'

#: the signals a run cleans up on before it ends
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ('SIGTERM', 'SIGINT', 'SIGHUP') if hasattr(signal, name))
# The temporary files and the locks this process owns now, and the signal handlers it replaced.
_OWNED_TEMPS = set()
_OWNED_LOCKS = []
_REPLACED = {}


def _own(temp=None, lock=None):
    if temp is not None:
        _OWNED_TEMPS.add(temp)
    if lock is not None:
        _OWNED_LOCKS.append(lock)
    if not _REPLACED and threading.current_thread() is threading.main_thread():
        for signum in CLEANUP_SIGNALS:
            try:
                _REPLACED[signum] = signal.signal(signum, _clean_up_and_end)
            except (OSError, ValueError):
                pass


def _disown(temp=None, lock=None):
    _OWNED_TEMPS.discard(temp)
    if lock in _OWNED_LOCKS:
        _OWNED_LOCKS.remove(lock)


def clean_up():
    """Remove this process's temporary files, and its lock files unless a command it started still holds them."""
    for path in sorted(_OWNED_TEMPS):
        try:
            os.unlink(path)
        except OSError:
            pass
    _OWNED_TEMPS.clear()
    if not commands_running():
        for lock in list(_OWNED_LOCKS):
            try:
                lock.release()
            except OSError:
                pass


def _clean_up_and_end(signum, frame):
    clean_up()
    for number, handler in _REPLACED.items():
        try:
            signal.signal(number, signal.SIG_DFL if number == signum else handler)
        except (OSError, ValueError, TypeError):
            pass
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGTERM, SIGINT and SIGHUP back until the block has run: what it does must not be left half done."""
    if not hasattr(signal, 'pthread_sigmask') or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, CLEANUP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class AtomicError(TaskError):
    """A lock or an atomic write could not be carried out."""


def fsync_path(path):
    """Flush a file's data and metadata to stable storage."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path):
    """Flush a directory's entries; ignored where the file system cannot."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_CLOEXEC', 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def lock_path_for(dest):
    directory, name = os.path.split(os.path.abspath(dest))
    return os.path.join(directory, '.%s%s' % (name, LOCK_SUFFIX))


def removing_path_for(dest):
    directory, name = os.path.split(os.path.abspath(dest))
    return os.path.join(directory, '.%s%s' % (name, REMOVING_SUFFIX))


def _temp_pattern(name):
    # tempfile.mkstemp names carry 8 characters from [a-z0-9_]
    return re.compile(r'\.%s\.[a-z0-9_]{8}%s' % (re.escape(name), re.escape(TEMP_SUFFIX)))


_ANY_TEMP = re.compile(r'\.(?P<name>.+)\.[a-z0-9_]{8}%s' % re.escape(TEMP_SUFFIX))
_ANY_LOCK = re.compile(r'\.(?P<name>.+)%s' % re.escape(LOCK_SUFFIX))
_ANY_REMOVING = re.compile(r'\.(?P<name>.+)%s' % re.escape(REMOVING_SUFFIX))


def leftover_of(path):
    """What ``path`` is when it is this collection's own file beside a destination: ``('temporary', dest)``,
    ``('lock', dest)``, ``('removal', dest)`` (an entry image_cache_prune was removing), or None for any other file."""
    directory, name = os.path.split(path)
    for kind, pattern in (('temporary', _ANY_TEMP), ('lock', _ANY_LOCK), ('removal', _ANY_REMOVING)):
        match = pattern.fullmatch(name)
        if match:
            return kind, os.path.join(directory, match.group('name'))
    return None


class Lock:
    """An exclusive BSD lock (flock) on one file, as a context manager.

    ``path`` is the file locked. With ``lock_file`` it is a lock file of its
    own: created when missing and removed on release; waiters check that the
    file they locked is still the one on disk, so the removal cannot let two
    holders in at once. Without it, ``path`` is an existing file that is only
    opened (a block device node, whose lock udev and systemd honour).

    ``timeout`` (seconds, None to wait for ever) bounds the wait. Commands the
    holder runs inherit the lock (see :func:`._run.inherit`), so it is not
    free again before they have exited, even when the holder is killed.

    ``found_stale`` tells, once acquired, that the lock file was there and
    free: its last holder died without removing it (a killed run), so what it
    was changing may be half done.
    """

    def __init__(self, path, lock_file=True, timeout=None, poll_interval=0.1):
        self.path = path
        self.lock_file = lock_file
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.found_stale = False
        self._fd = None

    def _open(self):
        """An open descriptor of the lock file, and whether this call created it."""
        cloexec = getattr(os, 'O_CLOEXEC', 0)
        try:
            if not self.lock_file:
                return os.open(self.path, os.O_RDONLY | cloexec), False
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | cloexec, 0o600), True
            except FileExistsError:
                return os.open(self.path, os.O_RDWR | cloexec), False
        except FileNotFoundError:
            if self.lock_file:  # removed between the two opens: try again
                return self._open()
            raise AtomicError(self.cannot_open(FileNotFoundError(2, os.strerror(2))), self.path)
        except OSError as exc:
            raise AtomicError(self.cannot_open(exc), self.path)

    def cannot_open(self, exc):
        return ('Cannot open %s to lock it: %s. Run the task as a user that may read it (become), or fix its owner '
                'and mode.' % (self.path, exc.strerror))

    def timed_out(self):
        return ('Cannot lock %s: another process holds its lock for more than %d s. Wait for it to finish (a '
                'partitioning or formatting tool, or udev), then run the task again.' % (self.path, self.timeout))

    def acquire(self):
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            fd, created = self._open()
            try:
                self._wait(fd, deadline)
                if not self.lock_file or self._still_on_disk(fd):
                    self._fd = fd
                    self.found_stale = self.lock_file and not created
                    inherit(fd)
                    _own(lock=self)
                    return self
            except BaseException:
                os.close(fd)
                raise
            # The previous holder removed the lock file we waited on: lock the new one.
            os.close(fd)

    def _still_on_disk(self, fd):
        held = os.fstat(fd)
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)

    def _wait(self, fd, deadline):
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise AtomicError(self.timed_out(), self.path)
            time.sleep(self.poll_interval)

    def release(self):
        if self._fd is None:
            return
        _disown(lock=self)
        forget(self._fd)
        try:
            if self.lock_file:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        self.release()
        return False


class DestinationLock(Lock):
    """The lock of one destination path: the lock file ``.NAME.lock`` beside it."""

    def __init__(self, dest, timeout=None, poll_interval=0.1):
        self.dest = os.path.abspath(dest)
        super(DestinationLock, self).__init__(lock_path_for(self.dest), timeout=timeout, poll_interval=poll_interval)

    def cannot_open(self, exc):
        return ('Cannot create the lock file %s for %s: %s. The directory must exist and be writable by the user the '
                'task runs as (become, or fix its owner and mode).' % (self.path, self.dest, exc.strerror))

    def timed_out(self):
        return ('Timed out after %s s waiting for the lock %s: another task is writing %s. Wait for it to finish, or '
                'remove the lock file if no such task is running.' % (self.timeout, self.path, self.dest))


class DeviceLock(Lock):
    """The lock of a block device: a flock on the device node itself, the convention udev and systemd honour."""

    def __init__(self, path, timeout=60.0, poll_interval=0.2):
        super(DeviceLock, self).__init__(path, lock_file=False, timeout=timeout, poll_interval=poll_interval)


def has_temps(dest):
    """Whether temporary files of a writer of ``dest`` lie beside it (a writer at work, or a killed one)."""
    directory, name = os.path.split(os.path.abspath(dest))
    try:
        entries = os.listdir(directory)
    except OSError:
        return False
    pattern = _temp_pattern(name)
    return any(pattern.fullmatch(entry) for entry in entries)


def lock_state(dest):
    """``held``, ``stale`` (a lock file nobody holds: its holder was killed) or None (no lock file) for ``dest``.

    The probe takes a shared lock and releases it at once, so it never stands
    in a writer's way for longer than that.
    """
    try:
        fd = os.open(lock_path_for(dest), os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return 'stale'
    except OSError:
        return 'held'
    finally:
        os.close(fd)


def left_by_a_killed_run(dest):
    """Whether a killed writer of ``dest`` left its lock file or temporary files behind (for check mode)."""
    return lock_state(dest) == 'stale' or has_temps(dest)


def remove_stale_temps(dest):
    """Remove temporary files that killed writers of ``dest`` left behind.

    Call only while holding the destination's lock. Returns the removed paths.
    """
    directory, name = os.path.split(os.path.abspath(dest))
    pattern = _temp_pattern(name)
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in sorted(entries):
        if pattern.fullmatch(entry):
            path = os.path.join(directory, entry)
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


class AtomicFile:
    """A temporary file beside ``dest`` that becomes ``dest`` on commit.

    Use it as a context manager: leaving the block normally commits (fsync,
    rename over ``dest``, fsync of the directory), leaving it with an exception
    removes the temporary file and leaves ``dest`` as it was.
    """

    def __init__(self, dest, mode=None):
        self.dest = os.path.abspath(dest)
        self.directory, self.name = os.path.split(self.dest)
        self.mode = mode
        self.path = None
        self.committed = False

    def create(self):
        try:
            fd, self.path = tempfile.mkstemp(prefix='.%s.' % self.name, suffix=TEMP_SUFFIX, dir=self.directory)
            _own(temp=self.path)
        except OSError as exc:
            raise AtomicError(
                'Cannot create a temporary file in %s for %s: %s. The directory must exist and be '
                'writable by the user the task runs as.' % (self.directory, self.dest, exc.strerror),
                self.directory)
        try:
            # mkstemp makes 0600 files; a new image gets the mode any new file
            # would get, unless the caller asks for another.
            os.fchmod(fd, self.mode if self.mode is not None else default_file_mode())
        finally:
            os.close(fd)
        return self

    def commit(self, before_rename=None):
        """Sync the temporary file and move it over the destination.

        ``before_rename`` is called with the temporary path once the data is
        synced, for example to set ownership and mode before the file becomes
        visible under its final name.
        """
        if self.path is None or self.committed:
            raise AtomicError('Nothing to commit for %s' % self.dest, self.dest)
        fsync_path(self.path)
        if before_rename is not None:
            before_rename(self.path)
        os.rename(self.path, self.dest)
        self.committed = True
        _disown(temp=self.path)
        fsync_directory(self.directory)

    def discard(self):
        if self.path is not None and not self.committed:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            _disown(temp=self.path)
            self.path = None

    def __enter__(self):
        return self.create()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and not self.committed:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        elif exc_type is not None:
            self.discard()
        return False


@contextlib.contextmanager
def scratch_file(dest, mode=None):
    """A temporary file beside ``dest`` for work before the atomic write, removed on leaving the block.

    It is named like :class:`AtomicFile`'s temporary files, so the next writer
    of ``dest`` removes it as stale if the run is killed. Renaming it away
    inside the block (into an AtomicFile's temporary path) keeps its data.
    """
    tmp = AtomicFile(dest, mode=mode).create()
    try:
        yield tmp.path
    finally:
        tmp.discard()
