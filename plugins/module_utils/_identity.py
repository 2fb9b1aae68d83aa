# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A record of what a produced file was made from, kept on the file itself.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Modules that copy or convert (image_convert, image_snapshot_extract,
sparse_copy) must decide "nothing to do" without reading image data. When they
write a destination they record on it:

* the source's identity: absolute path, size, mtime_ns, inode and device;
* the settings that shaped the result (formats, options, snapshot, ...);
* the destination's own identity (size, mtime_ns, inode) as written.

The record lives in the extended attribute ``user.hypervisor_images.source``,
or, where the file system refuses user extended attributes, in a hidden
sidecar file ``.NAME.source.json`` beside the destination.

On the next run the module builds the record it would write and compares: the
same source, the same settings and a destination that has not changed since
it was written mean nothing to do. The destination's own identity guards
against a file that someone else replaced or modified: its record no longer
counts, and the module treats it as a file it did not make.
"""

from __future__ import annotations

import errno
import json
import os
import stat

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    AtomicFile,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

XATTR_NAME = 'user.hypervisor_images.source'
SIDECAR_SUFFIX = '.source.json'
RECORD_VERSION = 1

# errnos that mean "no user xattrs here", as opposed to a real failure
_XATTR_UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.E2BIG, errno.ENOSPC, errno.ERANGE)
_NO_XATTR = (getattr(errno, 'ENODATA', 61), getattr(errno, 'ENOATTR', 93))


class RecordError(TaskError):
    """The record of a destination cannot be read."""


def file_identity(path):
    """What changes whenever a file's content is replaced or modified.

    A block device has no size or modification time of its own in stat: it is
    identified by its device number and its size, and writes to it go
    unnoticed (the modules document this).
    """
    st = os.stat(path)
    if stat.S_ISBLK(st.st_mode):
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
        return {'size': size, 'mtime_ns': None, 'inode': None, 'device': st.st_rdev}
    return stat_identity(st)


def stat_identity(st):
    """The identity of a regular file from its ``os.stat_result``."""
    return {'size': st.st_size, 'mtime_ns': st.st_mtime_ns, 'inode': st.st_ino, 'device': st.st_dev}


def source_record(src, identity=None, **settings):
    """The record a destination made from ``src`` with ``settings`` should carry.

    ``identity`` replaces the file identity of ``src`` where another one fits
    better: an internal snapshot, say, stays the same while the image around
    it changes, so it is identified by the image's inode and the snapshot's
    ID and date instead of the image's size and mtime.
    """
    if identity is None:
        identity = file_identity(src)
    identity = dict(identity, path=os.path.abspath(src))
    return {'version': RECORD_VERSION, 'source': identity, 'settings': settings}


def sidecar_path(dest):
    directory, name = os.path.split(os.path.abspath(dest))
    return os.path.join(directory, '.%s%s' % (name, SIDECAR_SUFFIX))


def _encode(record):
    return json.dumps(record, sort_keys=True, separators=(',', ':')).encode('utf-8')


def write_record(written_path, final_path, record):
    """Store ``record`` for the file at ``written_path`` that will become ``final_path``.

    Call it once the data is synced and before the rename (the inode, size and
    mtime survive the rename). Returns where the record went: ``xattr`` or
    ``sidecar``.
    """
    full = dict(record)
    dest = file_identity(written_path)
    dest.pop('device')
    full['dest'] = dest
    data = _encode(full)
    try:
        os.setxattr(written_path, XATTR_NAME, data)
        _remove_sidecar(final_path)
        return 'xattr'
    except OSError as exc:
        if exc.errno not in _XATTR_UNSUPPORTED:
            raise
    with AtomicFile(sidecar_path(final_path), mode=0o644) as tmp:
        with open(tmp.path, 'wb') as handle:
            handle.write(data)
    return 'sidecar'


def _remove_sidecar(dest):
    try:
        os.unlink(sidecar_path(dest))
    except FileNotFoundError:
        pass


def remove_record(dest):
    """Forget the record of ``dest`` (the xattr goes with the file; the sidecar is removed)."""
    _remove_sidecar(dest)


def read_record(dest):
    """Return the record stored for ``dest``, or None when it has none that still holds.

    A record whose destination identity no longer matches the file (someone
    replaced or modified it) does not hold.
    """
    record = stored_record(dest)
    if record is None:
        return None
    current = file_identity(dest)
    current.pop('device')
    if record.get('dest') != current:
        return None
    return record


def stored_record(dest):
    """The record stored for ``dest`` as it was written, whether or not it still holds; None without one."""
    raw = None
    try:
        raw = os.getxattr(dest, XATTR_NAME)
    except OSError as exc:
        if exc.errno not in _NO_XATTR + _XATTR_UNSUPPORTED:
            raise _unreadable(dest, exc)
    if raw is None:
        try:
            with open(sidecar_path(dest), 'rb') as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _unreadable(dest, exc)
    try:
        record = json.loads(raw.decode('utf-8'))
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get('version') != RECORD_VERSION:
        return None
    return record


def _unreadable(dest, exc):
    return RecordError('Cannot read the record of how %s was made (%s: %s). Run the task as a user that may read '
                       'and write %s (become), or fix its owner and mode.'
                       % (dest, exc.filename or dest, exc.strerror, dest), dest)


def compare_record(stored, wanted):
    """Return a list of human-readable reasons why ``stored`` does not match ``wanted``.

    An empty list means the destination was made from the same source with
    the same settings and has not changed since.
    """
    if stored is None:
        return ['the destination carries no record of how it was made, or was changed since']
    reasons = []
    old_src, new_src = stored.get('source') or {}, wanted['source']
    if old_src.get('path') != new_src['path']:
        reasons.append('it was made from %s' % old_src.get('path'))
    else:
        changed = [key for key in sorted(set(old_src) | set(new_src)) if old_src.get(key) != new_src.get(key)]
        if changed:
            reasons.append('the source changed (%s)' % ', '.join(changed))
    old_settings, new_settings = stored.get('settings') or {}, wanted['settings']
    for key in sorted(set(old_settings) | set(new_settings)):
        if old_settings.get(key) != new_settings.get(key):
            reasons.append('%s was %r, now %r' % (key, old_settings.get(key), new_settings.get(key)))
    return reasons
