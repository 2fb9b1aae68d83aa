# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which entries of a base-image cache are in use, and which may go.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Nova's image cache manager removes a base image that no instance has used for
a while. It knows the instances from its own database; a plain libvirt host,
shared storage seen by several hosts, or a host after a migration has no such
list, so this module reads the files themselves: every file under the users'
directories is inspected in pure Python (:func:`._inspect.inspect`, a few KiB of
headers, never qemu-img), and its backing chain is followed, each name resolved
as qemu resolves it. A cache entry is in use when

* a file that stays names it anywhere in its backing chain (an overlay on it,
  or an overlay on another base that is based on it), or
* a file that stays carries a source record (see :mod:`._identity`) naming it,
  such as a flat copy that sparse_copy made of it.

Entries are matched by device and inode, so different spellings of a path,
symbolic links and hard links all count. A cache entry that stays counts as a
user too; the plan is worked out to a fixed point, so that a base used only by
another base that goes is found unused in the same run.
"""

from __future__ import annotations

import fnmatch
import os
import stat

from ansible_collections.hypervisor.images.plugins.module_utils._identity import stored_record
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import inspect
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

#: how many backing files deep a chain is followed (qemu stops far earlier)
MAX_CHAIN = 64


class CacheScanError(TaskError):
    """Files under the users' directories could not be read, so use cannot be ruled out."""


def key_of(st):
    return st.st_dev, st.st_ino


def is_hidden(name):
    """Lock files, temporary files, record sidecars and probes of this collection, and other hidden files."""
    return name.startswith('.')


def cache_entries(cache, patterns=('*',), exclude=()):
    """The candidate entries of the cache directory: {(dev, ino): (path, stat)}.

    Regular files directly in ``cache`` (not symbolic links, not hidden files)
    whose names match one of ``patterns`` and none of ``exclude``.
    """
    entries = {}
    with os.scandir(cache) as found:
        for entry in found:
            if is_hidden(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            if not any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in patterns):
                continue
            if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in exclude):
                continue
            st = entry.stat(follow_symlinks=False)
            entries[key_of(st)] = (entry.path, st)
    return entries


class Scan:
    """The files under the users' directories and what each of them refers to.

    ``refs`` maps each file's (dev, ino) to the keys of the files it refers
    to (its backing chain and its recorded source); ``paths`` maps keys to a
    path; ``unreadable`` lists the files that could not be inspected.
    """

    def __init__(self, inspector=None):
        self.inspector = inspector or (lambda path: inspect(path, names_only=True))
        self.refs = {}
        self.paths = {}
        self.unreadable = []
        self.files = 0
        self.bytes_read = 0
        self._backing = {}

    def walk(self, roots):
        """Inspect every regular file under ``roots`` (directories, recursively; links to directories not followed)."""
        for root in roots:
            for directory, dirnames, filenames in os.walk(root, onerror=self._walk_error):
                dirnames[:] = sorted(name for name in dirnames if not is_hidden(name))
                for name in sorted(filenames):
                    if not is_hidden(name):
                        self.add(os.path.join(directory, name))
        return self

    def _walk_error(self, exc):
        self.unreadable.append('%s (%s)' % (exc.filename, exc.strerror))

    def add(self, path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return  # gone meanwhile: it uses nothing any more
        except OSError as exc:
            self.unreadable.append('%s (%s)' % (path, exc.strerror))
            return
        if not stat.S_ISREG(st.st_mode) or key_of(st) in self.refs:
            return
        key = key_of(st)
        self.files += 1
        self.paths[key] = path
        try:
            refs = self.chain(path, key)
            source = self.recorded_source(path)
        except TaskError as exc:
            self.unreadable.append('%s (%s)' % (path, exc.msg))
            self.refs[key] = set()
            return
        if source is not None:
            refs.add(source)
        self.refs[key] = refs

    def backing_of(self, path, key):
        """(key, path) of the backing file ``path`` names, or None; each file is inspected once."""
        if key not in self._backing:
            found = None
            inspection = self.inspector(path)
            self.bytes_read += inspection.bytes_read
            backing = inspection.backing_path
            if backing:
                try:
                    backing_st = os.stat(backing)
                except OSError:
                    backing_st = None  # a missing backing file (or one behind a protocol) is in no cache
                if backing_st is not None and stat.S_ISREG(backing_st.st_mode):
                    found = (key_of(backing_st), backing)
            self._backing[key] = found
        return self._backing[key]

    def chain(self, path, key):
        """The keys of every file in the backing chain of ``path`` (not ``path`` itself)."""
        keys = set()
        current = (key, path)
        for dummy in range(MAX_CHAIN):
            current = self.backing_of(current[1], current[0])
            if current is None or current[0] in keys or current[0] == key:
                break
            keys.add(current[0])
            self.paths.setdefault(current[0], current[1])
        return keys

    @staticmethod
    def recorded_source(path):
        """The key of the source a produced file's record names, if that source still exists."""
        record = stored_record(path)
        if not record:
            return None
        source = (record.get('source') or {}).get('path')
        if not source:
            return None
        try:
            return key_of(os.stat(source))
        except (OSError, TypeError, ValueError):
            return None


def plan(entries, scan, old):
    """Which entries go: a dict with ``remove`` (keys), ``in_use`` (key -> user paths) and ``young`` (keys).

    ``old`` is the set of entry keys older than the minimum age. An entry goes
    when it is old and no file that stays refers to it; entries that stay are
    users themselves, so this is repeated until nothing changes.
    """
    removable = set(key for key in entries if key in old)
    while True:
        used = set()
        for key, refs in scan.refs.items():
            if key not in removable:
                used |= refs
        newly = removable & used
        if not newly:
            break
        removable -= newly
    in_use = {}
    for key in entries:
        if key in removable:
            continue
        users = sorted(scan.paths[user] for user, refs in scan.refs.items() if key in refs and user not in removable)
        if users:
            in_use[key] = users
    young = set(key for key in entries if key not in old and key not in in_use)
    return {'remove': removable, 'in_use': in_use, 'young': young}


def require_complete(scan):
    """Fail when some files could not be read: an entry they use would look unused."""
    if scan.unreadable:
        shown = scan.unreadable[:10]
        more = len(scan.unreadable) - len(shown)
        raise CacheScanError(
            'Cannot tell which cache entries are in use: %d file(s) under the users\' directories cannot be read: %s%s. '
            'An entry one of them uses would look unused, so nothing was removed. Run the task as a user that may '
            'read them (become), or leave their directories out of users.'
            % (len(scan.unreadable), '; '.join(shown), ' and %d more' % more if more else ''))
