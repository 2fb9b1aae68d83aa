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
headers, never qemu-img), and every file qemu would open with it is followed,
each name resolved as qemu resolves it (:func:`._inspect.files_qemu_opens`). A
cache entry is in use when

* a file that stays would make qemu open it, at any depth: as a backing file
  (a plain name, ``file:``, ``json:{...}``), as a qcow2 data file or as a VMDK
  extent, of the file itself or of anything it opens in turn, or
* a file that stays carries a source record (see :mod:`._identity`) naming it,
  such as a flat copy that sparse_copy made of it.

A name whose file cannot be told (relative to the working directory of the
process that opens it) makes the scan incomplete, as an unreadable file does,
and an incomplete scan removes nothing. An entry is busy, and stays, when a
writer of this collection holds its lock or left a temporary file beside it,
when a process holds qemu's image locks on it, or when any process has it open
(:func:`busy_entries`).

Entries are matched by device and inode, so different spellings of a path,
symbolic links and hard links all count. A cache entry that stays counts as a
user too; the plan is worked out to a fixed point, so that a base used only by
another base that goes is found unused in the same run.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import time

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    has_temps,
    leftover_of,
    lock_path_for,
    lock_state,
    removing_path_for,
    signals_deferred,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.users import processes_holding
from ansible_collections.hypervisor.images.plugins.module_utils._identity import stored_record
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import files_qemu_opens, inspect, opened_names
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import qemu_lock_held
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError


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
            if selected(entry.name, patterns, exclude):
                st = entry.stat(follow_symlinks=False)
                entries[key_of(st)] = (entry.path, st)
    return entries


def selected(name, patterns, exclude):
    """Whether an entry's name matches one of ``patterns`` and none of ``exclude``."""
    return (any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude))


def removal_leftovers(cache):
    """Entries a killed removal left under their hidden name: ``[(hidden path, path)]``."""
    found = []
    with os.scandir(cache) as listing:
        for entry in listing:
            leftover = leftover_of(entry.path)
            if leftover and leftover[0] == 'removal' and entry.is_file(follow_symlinks=False):
                found.append((entry.path, leftover[1]))
    return sorted(found)


def restore(hidden, path):
    """Give an entry back its name; False (and the entry stays hidden) when another file has taken the name."""
    try:
        os.link(hidden, path)
    except FileExistsError:
        return False
    except OSError:
        # a file system without hard links: rename, unless the name was taken
        if os.path.lexists(path):
            return False
        os.rename(hidden, path)
        return True
    os.unlink(hidden)
    return True


class Scan:
    """The files under the users' directories and every file qemu would open with each of them.

    ``refs`` maps each file's (dev, ino) to the keys of the files it uses:
    everything qemu opens with it, to any depth (backing files in every
    spelling qemu accepts, qcow2 data files, VMDK extents, and theirs in turn)
    and its recorded source; ``paths`` maps keys to a path; ``unreadable``
    lists the files that could not be inspected and ``unresolved`` the names
    whose file cannot be told. Hidden files are read too: a writer's temporary
    file names its base before it is renamed into place.

    ``aliases`` maps the real paths of files renamed away to their keys: a
    name that leads to one of those paths uses that file (see
    :func:`remove_unused`).

    ``changed()`` tells whether anything read has changed since: a directory
    whose entries changed (a file created, renamed or removed in it) or a file
    rewritten. A directory modified in the same clock tick as it was listed
    counts as changed, since a change just after the listing would not move
    its time stamp.
    """

    #: a directory modified less than this many seconds before it was listed is listed again
    SETTLE = 0.05

    def __init__(self, inspector=None, aliases=None):
        self.inspector = inspector or (lambda path: inspect(path, names_only=True))
        self.aliases = aliases or {}
        self.refs = {}
        self.paths = {}
        self.unreadable = []
        self.unresolved = []
        self.files = 0
        self.bytes_read = 0
        self._direct = {}
        self._stamps = {}

    def walk(self, roots):
        """Inspect every regular file under ``roots`` (directories, recursively; links to directories not followed)."""
        for root in roots:
            self._walk(root)
        return self

    def _walk(self, directory):
        try:
            before = time.time()
            st = os.stat(directory)
            with os.scandir(directory) as found:
                children = sorted(found, key=lambda entry: entry.name)
        except OSError as exc:
            self.unreadable.append('%s (%s)' % (directory, exc.strerror))
            return
        self._stamps[('dir', directory)] = _stamp(st)
        if st.st_mtime >= before - self.SETTLE:
            self._stamps[('dir', directory)] = None  # changed too recently to tell a later change
        for entry in children:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                self._walk(entry.path)
            else:
                self.add(entry.path)

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
            refs = self.closure(path, key)
            source = self.recorded_source(path)
        except TaskError as exc:
            self.unreadable.append('%s (%s)' % (path, exc.msg))
            self.refs[key] = set()
            return
        if source is not None:
            refs.add(source)
        self.refs[key] = refs

    def opens(self, path, key):
        """(key, path) of each file qemu opens with the file ``path``; each file is inspected once."""
        if key not in self._direct:
            try:
                self._stamps[('file', path)] = _stamp(os.stat(path))
            except OSError:
                pass
            inspection = self.inspector(path)
            self.bytes_read += inspection.bytes_read
            found = []
            for what, name, directory in opened_names(inspection):
                targets, unresolved = files_qemu_opens(name, directory)
                for why in unresolved:
                    self.unresolved.append('the %s %r of %s: %s' % (what, name, path, why))
                for target in targets:
                    try:
                        target_st = os.stat(target)
                    except FileNotFoundError:
                        alias = self.aliases.get(os.path.realpath(target))
                        if alias is not None:
                            found.append((alias, target))
                        continue  # else qemu would find nothing there to open
                    except OSError as exc:
                        self.unreadable.append('%s (%s), the %s of %s' % (target, exc.strerror, what, path))
                        continue
                    if stat.S_ISREG(target_st.st_mode):
                        found.append((key_of(target_st), target))
            self._direct[key] = found
        return self._direct[key]

    def closure(self, path, key):
        """The keys of every file qemu opens with ``path``, to any depth (not ``path`` itself)."""
        keys = set()
        todo = [(key, path)]
        while todo:
            current_key, current_path = todo.pop()
            for found_key, found_path in self.opens(current_path, current_key):
                if found_key in keys or found_key == key:
                    continue
                keys.add(found_key)
                self.paths.setdefault(found_key, found_path)
                todo.append((found_key, found_path))
        return keys

    def changed(self):
        """The directories and files read that have changed since they were read (or could not be told)."""
        changed = []
        for (kind, path), stamp in sorted(self._stamps.items()):
            try:
                now = _stamp(os.stat(path))
            except OSError:
                now = None
            if stamp is None or now != stamp:
                changed.append(path)
        return changed

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


def _stamp(st):
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size


def plan(entries, scan, old, busy=()):
    """Which entries go: a dict with ``remove``, ``in_use`` (key -> user paths), ``busy`` and ``young``.

    ``old`` is the set of entry keys older than the minimum age, ``busy`` the
    keys of entries that stay whatever else holds (a writer or a process has
    them open). An entry goes when it is old, not busy, and no file that stays
    refers to it; entries that stay are users themselves (a busy overlay keeps
    its base), so this is repeated until nothing changes.
    """
    busy = set(busy)
    removable = set(key for key in entries if key in old and key not in busy)
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
    busy = set(key for key in entries if key in busy and key not in in_use)
    young = set(key for key in entries if key not in old and key not in in_use and key not in busy)
    return {'remove': removable, 'in_use': in_use, 'busy': busy, 'young': young}


def require_complete(scan):
    """Fail when some files could not be read, or a name's file cannot be told: an entry they use would look unused."""
    if scan.unresolved:
        shown = scan.unresolved[:10]
        more = len(scan.unresolved) - len(shown)
        raise CacheScanError(
            'Cannot tell which cache entries are in use: %d name(s) that qemu would open cannot be resolved to a '
            'file: %s%s. An entry one of them names would look unused, so nothing was removed. Give those images '
            'absolute names (qemu-img rebase -u -b /ABSOLUTE/PATH, qemu-img amend -o data_file=/ABSOLUTE/PATH), or '
            'leave their directories out of users.'
            % (len(scan.unresolved), '; '.join(shown), ' and %d more' % more if more else ''))
    if scan.unreadable:
        shown = scan.unreadable[:10]
        more = len(scan.unreadable) - len(shown)
        raise CacheScanError(
            'Cannot tell which cache entries are in use: %d file(s) under the users\' directories cannot be read: %s%s. '
            'An entry one of them uses would look unused, so nothing was removed. Run the task as a user that may '
            'read them (become), or leave their directories out of users.'
            % (len(scan.unreadable), '; '.join(shown), ' and %d more' % more if more else ''))


def busy_entries(entries, locked=()):
    """Why entries are busy: ``({key: reason}, processes_unseen)``.

    An entry is busy when a writer of this collection holds its lock (except
    for the keys in ``locked``, whose locks the caller holds) or left a
    temporary file beside it, when a process holds qemu's image locks on it (a
    virtual machine, qemu-io, qemu-nbd, a qemu-img convert reading it), or when
    any process has it open, as /proc shows. ``processes_unseen`` counts the
    processes whose open files could not be read (those of other users, when
    not run as root).
    """
    reasons = {}
    for key, (path, st) in entries.items():
        if key not in locked and lock_state(path) == 'held':
            reasons[key] = 'a task of this collection is writing it (its lock file %s is held)' % lock_path_for(path)
        elif has_temps(path):
            reasons[key] = 'a writer\'s temporary file lies beside it (a write under way, or a killed one)'
        else:
            try:
                held = qemu_lock_held(path)
            except OSError:
                held = False
            if held:
                reasons[key] = ('a qemu process holds its image lock (a running virtual machine, qemu-io, qemu-nbd '
                                'or qemu-img)')
    holders, unseen = processes_holding(set(key for key in entries if key not in reasons))
    for key, processes in holders.items():
        reasons[key] = 'open in process %s' % ', '.join(processes)
    return reasons, unseen


def remove_unused(entries, keys, roots, settle):
    """Remove the entries ``keys`` so that one that something starts to use meanwhile is kept.

    A process may open an entry between the last check and the removal (a
    qemu-img creating an overlay on it, a virtual machine starting). So each
    entry first goes to its hidden name ``.NAME.removing`` beside it, where no
    one opens it by its name any more; then whoever opened it before is looked
    for: a process holding it open or qemu's image locks on it, and, after a
    pause of ``settle`` seconds in which a qemu-img that read it finishes the
    overlay it writes, a new scan of ``roots`` (a name of the entry's old path
    leads to the entry). An entry found busy or in use gets its name back; the
    others are removed. SIGTERM, SIGINT and SIGHUP wait until every entry is
    gone or back under its name; after a kill -9 the next run finds the
    entries left under their hidden names (:func:`removal_leftovers`) and puts
    them back first.

    Returns ``(removed, kept)``: the keys removed, and ``{key: reason}`` for
    the entries that were kept.
    """
    hidden = {}
    removed = []
    with signals_deferred():
        try:
            for key in sorted(keys, key=lambda key: entries[key][0]):
                path = entries[key][0]
                try:
                    if key_of(os.stat(path)) != key:
                        continue  # replaced meanwhile by a writer that takes no lock
                    os.rename(path, removing_path_for(path))
                except FileNotFoundError:
                    continue
                hidden[key] = path
            kept = _kept_while_removing(dict((key, entries[key]) for key in hidden), roots, settle)
        except BaseException:
            for key, path in hidden.items():
                restore(removing_path_for(path), path)  # whatever went wrong, nothing is lost
            raise
        for key, path in sorted(hidden.items(), key=lambda item: item[1]):
            if key not in kept:
                os.unlink(removing_path_for(path))
                removed.append(key)
            elif not restore(removing_path_for(path), path):
                kept[key] += ('; a new file has taken its name meanwhile, so it stays as %s, which the next run removes'
                              % removing_path_for(path))
    return removed, kept


def _kept_while_removing(gone, roots, settle):
    """Which of the entries ``gone`` ({key: (path, stat)}), now under their hidden names, something opened or started
    to use: ``{key: reason}``."""
    kept = {}
    for key, (path, dummy) in gone.items():
        try:
            held = qemu_lock_held(removing_path_for(path))
        except OSError:
            held = False
        if held:
            kept[key] = 'a qemu process took its image lock while it was being removed; left for the next run'
    holders, dummy = processes_holding(set(gone) - set(kept))
    for key, processes in holders.items():
        kept[key] = 'opened by process %s while it was being removed; left for the next run' % ', '.join(processes)
    time.sleep(settle)
    scan = Scan(aliases=dict((os.path.realpath(path), key) for key, (path, dummy) in gone.items())).walk(roots)
    if scan.unreadable or scan.unresolved:
        for key in gone:
            kept.setdefault(key, 'the users could not all be read again while it was being removed; left for the next '
                                 'run')
        return kept
    planned = plan(gone, scan, set(gone), set(kept))
    for key, users in planned['in_use'].items():
        kept[key] = '%s started to use it while it was being removed; left for the next run' % ', '.join(users)
    return kept
