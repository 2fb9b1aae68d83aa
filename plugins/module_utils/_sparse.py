# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A file copy that keeps holes, clones where it can and is as fast as cp.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

The copy tries, in this order:

1. a clone (the FICLONE ioctl, a "reflink"): the destination shares the
   source's blocks until either is written, in constant time. XFS (made with
   reflink=1, the default since xfsprogs 5.1) and Btrfs can; ext4 cannot.
   ``reflink='always'`` fails where it is not possible instead of copying.
   ``reflink='never'`` skips it and step 2 as well, since within one XFS or
   Btrfs file system copy_file_range shares blocks just as a clone does.
2. ``copy_file_range`` over the source's data extents only, found with
   ``lseek(SEEK_DATA)``/``lseek(SEEK_HOLE)``, in large chunks: the kernel
   moves the data without a round trip through Python, and holes are never
   read or written, so they stay holes.
3. ``pread``/``pwrite`` over the same extents when the kernel or the file
   systems refuse ``copy_file_range`` (EXDEV, ENOSYS, EOPNOTSUPP, EINVAL) or
   ``reflink='never'`` rules it out, or over the whole file when the file
   system cannot report its extents. Blocks
   that read as all zeros are not written, so they become holes.

The destination's length is set to the source's, so a trailing hole stays a
hole. A source that changes while it is copied makes the copy fail.

The module writes the copy through the task skeleton's atomic write
(:meth:`._task.ImageTask.write_atomically`): a temporary file beside the
destination that is synced and renamed over it, or removed on any failure
(ENOSPC included), leaving an existing destination untouched.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from ansible_collections.hypervisor.images.plugins.module_utils._identity import stat_identity
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

REFLINK_MODES = ('auto', 'always', 'never')

REFLINK = 'reflink'
COPY_FILE_RANGE = 'copy_file_range'
READWRITE = 'readwrite'

# _IOW(0x94, 9, int) from linux/fs.h
FICLONE = 0x40049409

MiB = 1024 * 1024
COPY_CHUNK = 256 * MiB   # per copy_file_range call; the kernel caps a call just below 2 GiB
READ_CHUNK = 1 * MiB     # per pread in the read/write fallback
DEFAULT_BLOCK = 4096

# errnos with which a clone or copy_file_range says "not here", as opposed to a real failure
_ENOTSUP = getattr(errno, 'ENOTSUP', errno.EOPNOTSUPP)
CLONE_REFUSED = frozenset((errno.EOPNOTSUPP, _ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS,
                           errno.EBADF))
COPY_RANGE_REFUSED = frozenset((errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, _ENOTSUP, errno.EINVAL))
SEEK_REFUSED = frozenset((errno.EINVAL, errno.EOPNOTSUPP, _ENOTSUP, errno.ENOSYS))


class SparseCopyError(TaskError):
    """A copy that could not be made; ``msg`` says why and what would help."""

    def __init__(self, msg, errno=None):
        super(SparseCopyError, self).__init__(msg)
        self.errno = errno


class ReflinkError(SparseCopyError):
    """``reflink='always'`` where the file system cannot clone."""


class SourceChangedError(SparseCopyError):
    """The source was modified while it was being copied."""


class CopyResult:
    """What a copy did: its method, the data bytes it covered, the length and the time it took.

    ``source`` is the identity (see :func:`._identity.stat_identity`) of the
    source as it was copied, once :func:`copy_file` has checked that it did not
    change meanwhile.
    """

    def __init__(self, method, bytes_copied, apparent_size, duration=0.0, source=None):
        self.method = method
        self.bytes_copied = bytes_copied
        self.apparent_size = apparent_size
        self.duration = duration
        self.source = source

    def __repr__(self):
        return 'CopyResult(%r, %r, %r, %.6f)' % (self.method, self.bytes_copied, self.apparent_size, self.duration)


class _Refused(Exception):
    """copy_file_range refused to copy; carry on with read/write from ``offset``."""

    def __init__(self, offset):
        super(_Refused, self).__init__(offset)
        self.offset = offset


# -- what a file holds ---------------------------------------------------------

def data_extents(fd, size):
    """Return the data extents of the open file ``fd`` below ``size`` as (offset, length) pairs.

    Holes are what lies between them. Returns None when the file system cannot
    say (``lseek`` refuses SEEK_DATA); callers then treat the whole file as data.
    """
    seek_data = getattr(os, 'SEEK_DATA', None)
    seek_hole = getattr(os, 'SEEK_HOLE', None)
    if seek_data is None or seek_hole is None:
        return None
    extents = []
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, seek_data)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from pos to the end
                break
            if exc.errno in SEEK_REFUSED and pos == 0:
                return None
            raise
        if start >= size:
            break
        end = min(os.lseek(fd, start, seek_hole), size)
        if end <= start:  # the file shrank under us; the caller's checks report it
            break
        extents.append((start, end - start))
        pos = end
    return extents


def data_bytes(path):
    """Bytes in the data extents of ``path`` (its whole length where extents are unknown)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        size = os.fstat(fd).st_size
        extents = data_extents(fd, size)
    finally:
        os.close(fd)
    if extents is None:
        return size
    return sum(length for _offset, length in extents)


def allocated_bytes(path):
    """Bytes ``path`` occupies on disk (st_blocks), 0 when it does not exist."""
    try:
        return os.stat(path).st_blocks * 512
    except FileNotFoundError:
        return 0


def _merge(extents):
    merged = []
    for offset, length in sorted(extents):
        if merged and offset <= merged[-1][0] + merged[-1][1]:
            last_offset, last_length = merged[-1]
            merged[-1] = (last_offset, max(last_length, offset + length - last_offset))
        else:
            merged.append((offset, length))
    return merged


def same_content(path_a, path_b, chunk=READ_CHUNK):
    """Whether two files hold the same bytes, reading only where either holds data."""
    fd_a = os.open(path_a, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        fd_b = os.open(path_b, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            size = os.fstat(fd_a).st_size
            if os.fstat(fd_b).st_size != size:
                return False
            extents_a = data_extents(fd_a, size)
            extents_b = data_extents(fd_b, size)
            if extents_a is None or extents_b is None:
                ranges = [(0, size)] if size else []
            else:
                ranges = _merge(extents_a + extents_b)
            for offset, length in ranges:
                pos, end = offset, offset + length
                while pos < end:
                    want = min(chunk, end - pos)
                    data_a = os.pread(fd_a, want, pos)
                    if data_a != os.pread(fd_b, want, pos) or len(data_a) != want:
                        return False
                    pos += want
            return True
        finally:
            os.close(fd_b)
    finally:
        os.close(fd_a)


# -- the three ways to copy ----------------------------------------------------

def clone(src_fd, dst_fd):
    """Make ``dst_fd`` share all of ``src_fd``'s blocks (FICLONE). Raises OSError where impossible."""
    fcntl.ioctl(dst_fd, FICLONE, src_fd)


def _copy_range(src_fd, dst_fd, offset, length, chunk):
    """copy_file_range over one extent; raises _Refused where the kernel will not."""
    pos, end = offset, offset + length
    while pos < end:
        try:
            copied = os.copy_file_range(src_fd, dst_fd, min(chunk, end - pos), pos, pos)
        except OSError as exc:
            if exc.errno in COPY_RANGE_REFUSED:
                raise _Refused(pos)
            raise
        if copied == 0:
            # End of file early: some file systems answer 0 instead of an error, or the
            # source shrank. The read/write path tells the two apart.
            raise _Refused(pos)
        pos += copied


def _pwrite_all(fd, data, offset):
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _copy_nonzero(src_fd, dst_fd, offset, length, block, chunk):
    """pread/pwrite over one extent, leaving all-zero blocks unwritten (holes)."""
    zero_block = bytes(block)
    pos, end = offset, offset + length
    while pos < end:
        want = min(chunk, end - pos)
        data = os.pread(src_fd, want, pos)
        if len(data) < want:
            raise SourceChangedError('the source ended at %d bytes, before the %d bytes it had when the copy '
                                     'started' % (pos + len(data), end))
        if data.count(0) != want:
            view = memoryview(data)
            run = None  # start of a run of blocks to write
            for start in range(0, want, block):
                piece = data[start:start + block]
                if piece == zero_block[:len(piece)]:
                    if run is not None:
                        _pwrite_all(dst_fd, view[run:start], pos + run)
                        run = None
                elif run is None:
                    run = start
            if run is not None:
                _pwrite_all(dst_fd, view[run:], pos + run)
        pos += want


def copy_fd(src_fd, dst_fd, reflink='auto', size=None, block=None, chunk=COPY_CHUNK, read_chunk=READ_CHUNK):
    """Copy the open regular file ``src_fd`` into the empty regular file ``dst_fd``.

    Returns a :class:`CopyResult`. ``bytes_copied`` counts the source's data
    extents (all of it where the file system cannot tell data from holes);
    for a clone they are the bytes now shared. Raises :class:`ReflinkError`
    when ``reflink='always'`` cannot clone, OSError on I/O errors (ENOSPC).
    """
    if reflink not in REFLINK_MODES:
        raise ValueError('reflink must be one of %s, not %r' % (', '.join(REFLINK_MODES), reflink))
    started = time.monotonic()
    if size is None:
        size = os.fstat(src_fd).st_size
    if block is None:
        block = os.fstat(dst_fd).st_blksize or DEFAULT_BLOCK

    if reflink != 'never':
        try:
            clone(src_fd, dst_fd)
        except OSError as exc:
            if exc.errno not in CLONE_REFUSED:
                raise
            if reflink == 'always':
                raise ReflinkError(_clone_refusal(exc), exc.errno)
        else:
            extents = data_extents(src_fd, size)
            copied = size if extents is None else sum(length for _offset, length in extents)
            return CopyResult(REFLINK, copied, size, time.monotonic() - started)

    os.ftruncate(dst_fd, size)  # the length first: a trailing hole stays a hole
    extents = data_extents(src_fd, size)
    if extents is None:
        extents = [(0, size)] if size else []
        method = READWRITE
    elif reflink == 'never' or not hasattr(os, 'copy_file_range'):
        # copy_file_range clones where the file system can (XFS, Btrfs): not for 'never'
        method = READWRITE
    else:
        method = COPY_FILE_RANGE
    if method == READWRITE and hasattr(os, 'posix_fadvise'):
        os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    for offset, length in extents:
        if method == COPY_FILE_RANGE:
            try:
                _copy_range(src_fd, dst_fd, offset, length, chunk)
                continue
            except _Refused as refused:
                # the rest of this extent and every later one by read/write
                method = READWRITE
                length -= refused.offset - offset
                offset = refused.offset
        _copy_nonzero(src_fd, dst_fd, offset, length, block, read_chunk)
    return CopyResult(method, sum(length for _offset, length in extents), size, time.monotonic() - started)


def _clone_refusal(exc):
    if exc.errno == errno.EXDEV:
        why = 'the source and the destination are on different file systems, and a clone only works within one'
    elif exc.errno == errno.EINVAL:
        why = 'the file system refused the clone (EINVAL: it cannot clone these files, or not at this alignment)'
    else:
        why = ('the file system cannot clone files (%s); XFS made with reflink=1 and Btrfs can, ext4 cannot'
               % (exc.strerror or errno.errorcode.get(exc.errno, exc.errno)))
    return 'reflink=always, but %s' % why


def copy_file(src, dst, reflink='auto', **kwargs):
    """Copy ``src`` into the existing, empty regular file ``dst``; see :func:`copy_fd`.

    Raises :class:`SourceChangedError` when ``src`` was modified during the copy.
    """
    src_fd = os.open(src, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        before = os.fstat(src_fd)
        if not stat.S_ISREG(before.st_mode):
            raise SparseCopyError('%s is not a regular file' % src)
        dst_fd = os.open(dst, os.O_WRONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            result = copy_fd(src_fd, dst_fd, reflink=reflink, size=before.st_size, **kwargs)
        finally:
            os.close(dst_fd)
        if stat_identity(os.fstat(src_fd)) != stat_identity(before):
            raise SourceChangedError('%s changed while it was being copied; copy it again when nothing writes to it'
                                     % src)
        result.source = stat_identity(before)
        return result
    finally:
        os.close(src_fd)
