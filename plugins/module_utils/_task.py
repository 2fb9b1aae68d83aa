# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The skeleton every module that makes sure one file (or device) is as asked shares.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

A module subclasses :class:`ImageTask`, fills in ``validate``, ``preflight``
and ``decide_and_act`` (and ``lock`` where the default does not fit), and
calls ``run``. ``run`` owns the rule every module follows:

1. ``validate()`` checks the parameters before anything is read;
2. ``preflight()`` refuses what can never work and returns what the path is
   (:func:`._fs.path_kind`); it runs before the lock, so that a task that
   would fail anyway does not first wait for another one to finish;
3. not in check mode, the lock (``lock(kind)``) is taken, temporary files
   that killed runs left are removed (``interrupted`` then says that a run
   was killed while it changed the path, so that an in-place change may be
   half done), and ``preflight()`` runs once more under the lock, since
   another task may have changed the path meanwhile;
4. ``decide_and_act(kind)`` decides and acts (not in check mode);
5. the result and the diff are reported.

Every :class:`._run.TaskError` raised on the way (a command that failed, a
lock, a size, a record that cannot be read, ...) fails the task with its
message and, where a command ran, its ``cmd``, ``rc`` and ``stderr``. An
``OSError`` that no step turned into a message is reported with the path it
was about, never as a traceback.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import time

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    AtomicError,
    AtomicFile,
    DestinationLock,
    left_by_a_killed_run,
    remove_stale_temps,
)
from ansible_collections.hypervisor.images.plugins.module_utils._fs import (
    DIRECTORY,
    FILE,
    MISSING,
    path_kind,
)
from ansible_collections.hypervisor.images.plugins.module_utils._identity import (
    remove_record,
    sidecar_path,
    write_record,
)
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import inspect, inspect_chain
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import QemuImg, image_facts
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._units import parse_size

SECTOR = 512
FACT_KEYS = ('format', 'virtual_size', 'actual_size', 'cluster_size', 'backing_file', 'backing_format')
#: the reason codes waived when backing files are allowed
BACKING = ('backing_file',)


def planned_attributes(kwargs, after):
    """Put the mode, owner and group of a diff's ``after`` state (as set_fs_attributes_if_different fills it) in ``kwargs``."""
    if 'mode' in after:
        mode = after['mode']
        kwargs['mode'] = mode if isinstance(mode, str) else '0%03o' % mode
    for key, id_key, lookup in (('owner', 'uid', _user_name), ('group', 'gid', _group_name)):
        if key not in after:
            continue
        value = after[key]
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            kwargs[id_key] = int(value)
            kwargs[key] = lookup(int(value))
        else:
            kwargs[key] = value


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def round_up(value, multiple=SECTOR):
    return -(-value // multiple) * multiple


def access_problem(exc, path=None, need='read and write'):
    """A message for an ``OSError`` met on ``path``: what failed, where, and what would help."""
    where = exc.filename or path
    return ('Cannot access %s: %s. Run the task as a user that may %s it (become), or fix the owner and mode of the '
            'file and its directory.' % (where, exc.strerror or exc, need))


class ImageTask:
    """One module run that makes sure the file (or device) at ``path`` is as asked."""

    #: shown in refusals of directories and devices
    device_hint = 'this module manages image files'
    #: the fix named when an image is refused for its backing file
    backing_hint = ('The image has a backing file, which qemu-img would read too; a hostile header can name any file on '
                    'the host this way. Set allow_backing_file: true if the image and its backing files are trusted.')

    def __init__(self, module, path):
        self.module = module
        self.params = module.params
        self.path = os.path.abspath(path)
        self._qemu = None
        self.result = {'changed': False}
        self.diff = {'before': {}, 'after': {}}
        #: a run that changed this path was killed before it finished (see run())
        self.interrupted = False

    @property
    def qemu(self):
        """The qemu-img runner, found on first use (a run that never needs qemu-img does not need it installed)."""
        if self._qemu is None:
            self._qemu = QemuImg()
        return self._qemu

    # -- outcome ---------------------------------------------------------

    def fail(self, msg, details=None):
        self.result.update(details or {})
        self.result['msg'] = msg
        self.module.fail_json(**self.result)

    def fail_from(self, exc, msg=None):
        """Fail with a TaskError's message (or ``msg``) and, where a command ran, its cmd, rc and stderr."""
        details = exc.to_result()
        details.pop('msg', None)
        self.fail(msg or exc.msg, details)

    def report(self, facts):
        self.result.update(dict((key, facts.get(key)) for key in FACT_KEYS))

    # -- the run ---------------------------------------------------------

    def validate(self):
        """Check and normalise parameters; fail on bad input before anything is read."""

    def preflight(self):
        """Refuse what can never work; return ``path_kind(self.path)``. Runs before and under the lock."""
        return self.refuse_non_file()

    def lock(self, kind):
        """The lock to hold while deciding and acting on a ``kind`` path, or None for none."""
        return DestinationLock(self.path)

    def decide_and_act(self, kind):
        raise NotImplementedError

    def run(self):
        try:
            self.validate()
            kind = self.preflight()
            lock = self.lock(kind)
            if self.module.check_mode:
                # What the real run would meet first: a lock file it cannot create, a killed run's leftovers.
                if isinstance(lock, DestinationLock) and not os.access(os.path.dirname(lock.path), os.W_OK | os.X_OK):
                    self.fail(lock.cannot_open(PermissionError(errno.EACCES, os.strerror(errno.EACCES))))
                if kind in (FILE, MISSING):
                    self.interrupted = left_by_a_killed_run(self.path)
                lock = None
            if lock is None:
                self.decide_and_act(kind)
            else:
                with lock:
                    if kind in (FILE, MISSING):
                        # Leftovers of killed runs: temporary images, and temporary record sidecars.
                        removed = remove_stale_temps(self.path) + remove_stale_temps(sidecar_path(self.path))
                        self.interrupted = lock.found_stale or bool(removed)
                    self.decide_and_act(self.preflight())
        except TaskError as exc:
            self.fail_from(exc)
        except OSError as exc:
            self.fail(access_problem(exc, self.path))
        if self.module._diff:
            self.result['diff'] = self.diff
        if self.module.check_mode:
            self.report_planned_attributes()
        self.module.exit_json(**self.result)

    def report_planned_attributes(self):
        """In check mode, report the mode, owner and group the real run would give the file, not those on disk.

        AnsibleModule.exit_json reads them from the file (add_path_info); the
        diff's after state holds what the run would set.
        """
        after = self.diff.get('after')
        if not isinstance(after, dict) or not any(key in after for key in ('mode', 'owner', 'group')):
            return
        read_from_disk = self.module.add_path_info

        def add_path_info(kwargs):
            kwargs = read_from_disk(kwargs)
            if kwargs.get('path') == self.path and kwargs.get('state') not in (None, 'absent'):
                planned_attributes(kwargs, after)
            return kwargs
        self.module.add_path_info = add_path_info

    # -- shared checks ---------------------------------------------------

    def directory_hint(self):
        """What to do instead, shown when ``path`` is a directory."""
        return 'give a path to a file inside it'

    def refuse_non_file(self, path=None, what='an image file'):
        """Fail unless ``path`` is a regular file or missing; return its kind."""
        path = path or self.path
        kind = path_kind(path)
        if kind not in (MISSING, FILE):
            hint = self.directory_hint() if kind == DIRECTORY else self.device_hint
            self.fail('%s is a %s, not %s: %s.' % (path, kind, what, hint))
        return kind

    def require_directory(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            self.fail('Cannot create %s: the directory %s does not exist. Create it first, for example with '
                      'ansible.builtin.file (state: directory) or the hypervisor.images.instance_storage role.'
                      % (self.path, directory))

    def require_readable(self, path, what='The source'):
        """Fail unless ``path`` can be opened for reading by the user the task runs as."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        except OSError as exc:
            self.fail('%s %s cannot be read: %s. Run the task as a user that may read it (become), or fix its owner '
                      'and mode; nothing was written.' % (what, path, exc.strerror))
        os.close(fd)

    def parse_size_param(self, name, minimum=1, round_to=SECTOR):
        """The parameter ``name`` in bytes (rounded up to ``round_to``), or None."""
        value = self.params[name]
        if value is None:
            return None
        size = parse_size(value, name)
        if size < minimum:
            self.fail('%s: %d bytes is too small; it must be at least %d bytes.' % (name, size, minimum))
        return round_up(size, round_to) if round_to else size

    # -- facts -----------------------------------------------------------

    def facts(self, path=None, declared_format=None, backing_chain=False, inspection=None, allow=()):
        """Facts of an image (see :func:`._qemu_img.image_facts`); with ``inspection``, qemu-img must agree with it."""
        return image_facts(self.qemu, path or self.path, declared_format=declared_format, backing_chain=backing_chain,
                           inspection=inspection, allow=allow)

    def vet(self, path, claimed=None, allow_backing=False, own_backing=False, chain=True):
        """Inspect an image this task did not create, and every file of its backing chain, before qemu-img opens it.

        Refuses (an :class:`._inspect.UnsafeImageError` naming every reason and
        the fix) what is never acceptable (data files, extents, protocol names,
        unknown features, polyglots, a format other than ``claimed``, ...) and,
        unless ``allow_backing``, a backing file. ``own_backing`` accepts the
        image's own backing file (an overlay whose base the task manages); the
        base is vetted all the same, and may have a backing file of its own only
        with ``allow_backing``. A backing file that does not exist ends the
        chain. Without ``chain`` (for commands that open the image alone),
        only the image itself is inspected. Returns the inspections, the image
        first; ``self.result`` gets the image's ``verdict``.
        """
        top_allow = BACKING if (allow_backing or own_backing) else ()
        top = inspect(path, claimed_format=claimed, allow=top_allow)
        self.result['verdict'] = top.verdict()
        top.require_safe(top_allow, hints={'backing_file': self.backing_hint})
        inspections = [top]
        if chain and top.backing_path is not None and os.path.lexists(top.backing_path):
            allow = BACKING if allow_backing else ()
            for item in inspect_chain(top.backing_path, None, claimed_format=top.backing_format, allow=allow,
                                      missing_ok=True):
                item.require_safe(allow, hints={'backing_file': '%s is in the backing chain of %s. %s'
                                                                % (item.path, path, self.backing_hint)})
                inspections.append(item)
        return inspections

    def describe(self, path=None):
        """Best-effort before-state of an existing file for a diff: what can be read of it, never a failure."""
        path = path or self.path
        state = {'path': path, 'state': 'present'}
        try:
            facts = self.facts(path)
        except TaskError:
            return state
        state.update(format=facts['format'], virtual_size=facts['virtual_size'])
        return state

    # -- actions ---------------------------------------------------------

    def remove(self, kind):
        """state=absent: remove the file (and any source record) if it exists."""
        self.diff['after'] = {'path': self.path, 'state': 'absent'}
        self.diff['before'] = {'path': self.path, 'state': 'absent'}
        if kind == MISSING:
            return
        self.diff['before'].update(self.describe())
        self.result['changed'] = True
        if not self.module.check_mode:
            try:
                os.unlink(self.path)
                remove_record(self.path)
            except OSError as exc:
                self.fail('Cannot remove %s: %s.' % (self.path, exc.strerror))

    def apply_file_attributes(self, path):
        file_args = self.module.load_file_common_arguments(self.module.params, path=path)
        self.module.set_fs_attributes_if_different(file_args, True)

    def update_file_attributes(self):
        """Apply owner, group, mode and SELinux fields to the existing file; updates ``changed``."""
        file_args = self.module.load_file_common_arguments(self.module.params, path=self.path)
        self.result['changed'] = self.module.set_fs_attributes_if_different(
            file_args, self.result['changed'], diff=self.diff)

    def write_atomically(self, produce, record=None, what='create', mode=None):
        """Run ``produce(temp_path)`` and move the result into place.

        The temporary file sits beside the destination (with ``mode``, else
        the umask's); once ``produce`` returns it is synced, given its file
        attributes and (with ``record``) the source record, then renamed over
        the destination. ``record`` is a record, or a function that makes one
        from what ``produce`` returned. On any failure the temporary file is
        removed, the destination left as it was, and the task fails with
        :meth:`write_failed`'s message. Returns what ``produce`` returned.
        """
        start = time.monotonic()
        produced = []

        def finish(tmp_path):
            self.apply_file_attributes(tmp_path)
            if record is not None:
                wanted = record(produced[0]) if callable(record) else record
                self.result['record'] = write_record(tmp_path, self.path, wanted)

        try:
            with AtomicFile(self.path, mode=mode) as tmp:
                produced.append(produce(tmp.path))
                tmp.commit(before_rename=finish)
        except (TaskError, OSError) as exc:
            self.write_failed(exc, what)
        self.result['duration'] = round(time.monotonic() - start, 3)
        return produced[0]

    def write_failed(self, exc, what):
        """Fail the task after a write that did not happen (the destination is as it was)."""
        self.result['changed'] = False
        if isinstance(exc, AtomicError):
            self.fail('Cannot %s %s: %s' % (what, self.path, exc.msg))
        if isinstance(exc, OSError):
            self.fail('Cannot %s %s: %s' % (what, self.path, exc))
        self.fail_from(exc)
