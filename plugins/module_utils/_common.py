# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The skeleton every module that writes one image file shares.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

A module subclasses :class:`ImageTask`, fills in ``validate``, ``preflight``
and ``decide_and_act``, and calls ``run``. ``run`` takes the destination's
lock (not in check mode), removes temporary files that killed runs left, lets
the subclass decide and act, and exits with the result and the diff.
"""

from __future__ import annotations

import os
import time

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    AtomicError,
    AtomicFile,
    DestinationLock,
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
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import (
    QemuImg,
    QemuImgError,
    image_facts,
)
from ansible_collections.hypervisor.images.plugins.module_utils._units import SizeError, parse_size

SECTOR = 512
FACT_KEYS = ('format', 'virtual_size', 'actual_size', 'cluster_size', 'backing_file', 'backing_format')


def round_up(value, multiple=SECTOR):
    return -(-value // multiple) * multiple


class ImageTask:
    """One module run that makes sure the file at ``path`` is as asked."""

    #: shown in refusals of directories and devices
    device_hint = 'this module manages image files'

    def __init__(self, module, path):
        self.module = module
        self.params = module.params
        self.path = os.path.abspath(path)
        self._qemu = None
        self.result = {'changed': False}
        self.diff = {'before': {}, 'after': {}}

    @property
    def qemu(self):
        """The qemu-img runner, found on first use (a module that never runs qemu-img does not need it)."""
        if self._qemu is None:
            self._qemu = QemuImg(self.module)
        return self._qemu

    # -- outcome ---------------------------------------------------------

    def fail(self, msg, details=None):
        self.result.update(details or {})
        self.result['msg'] = msg
        self.module.fail_json(**self.result)

    def fail_from(self, exc, msg=None):
        """Fail with a QemuImgError's message (or ``msg``) and its cmd, rc and stderr."""
        details = exc.to_result()
        details.pop('msg', None)
        self.fail(msg or exc.msg, details)

    def report(self, facts):
        self.result.update(dict((key, facts.get(key)) for key in FACT_KEYS))

    # -- the run ---------------------------------------------------------

    def validate(self):
        """Check and normalise parameters; fail on bad input before anything is read."""

    def preflight(self):
        """Refuse what can never work before the lock; return ``path_kind(self.path)``."""
        return self.refuse_non_file()

    def needs_lock(self, kind):
        return True

    def decide_and_act(self):
        raise NotImplementedError

    def run(self):
        self.validate()
        kind = self.preflight()
        if self.module.check_mode or not self.needs_lock(kind):
            self.decide_and_act()
        else:
            try:
                with DestinationLock(self.path):
                    # Leftovers of killed runs: temporary images, and temporary record sidecars.
                    remove_stale_temps(self.path)
                    remove_stale_temps(sidecar_path(self.path))
                    self.decide_and_act()
            except AtomicError as exc:
                self.fail(exc.msg)
        if self.module._diff:
            self.result['diff'] = self.diff
        self.module.exit_json(**self.result)

    # -- shared checks ---------------------------------------------------

    def refuse_non_file(self, path=None, what='an image file'):
        path = path or self.path
        kind = path_kind(path)
        if kind not in (MISSING, FILE):
            hint = 'give a path to a file inside it' if kind == DIRECTORY else self.device_hint
            self.fail('%s is a %s, not %s: %s.' % (path, kind, what, hint))
        return kind

    def require_directory(self):
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            self.fail('Cannot create %s: the directory %s does not exist. Create it first, for example with '
                      'ansible.builtin.file (state: directory) or the hypervisor.images.instance_storage role.'
                      % (self.path, directory))

    def parse_size_param(self, name, minimum=1, round_to=SECTOR):
        """The parameter ``name`` in bytes (rounded up to ``round_to``), or None."""
        value = self.params[name]
        if value is None:
            return None
        try:
            size = parse_size(value, name)
        except SizeError as exc:
            self.fail(str(exc))
        if size < minimum:
            self.fail('%s: %d bytes is too small; it must be at least %d bytes.' % (name, size, minimum))
        return round_up(size, round_to) if round_to else size

    # -- facts -----------------------------------------------------------

    def facts(self, path=None, declared_format=None, backing_chain=False):
        """Facts of an image; a qemu-img failure fails the task with its details."""
        try:
            return image_facts(self.qemu, path or self.path, declared_format=declared_format,
                               backing_chain=backing_chain)
        except QemuImgError as exc:
            self.fail_from(exc)

    def describe(self, path=None):
        """Best-effort before-state of an existing file for a diff."""
        path = path or self.path
        try:
            facts = image_facts(self.qemu, path, declared_format=detect_format(path))
        except (QemuImgError, OSError):
            return {'path': path, 'state': 'present'}
        return {'path': path, 'state': 'present', 'format': facts['format'], 'virtual_size': facts['virtual_size']}

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

    def write_atomically(self, produce, record=None, what='create'):
        """Run ``produce(temp_path)`` and move the result into place.

        The temporary file sits beside the destination; once ``produce``
        returns it is synced, given its file attributes and (with ``record``)
        the source record, then renamed over the destination. On any failure
        the temporary file is removed and the destination left as it was.
        Returns what ``produce`` returned.
        """
        start = time.monotonic()

        def finish(tmp_path):
            self.apply_file_attributes(tmp_path)
            if record is not None:
                self.result['record'] = write_record(tmp_path, self.path, record)

        try:
            with AtomicFile(self.path) as tmp:
                produced = produce(tmp.path)
                tmp.commit(before_rename=finish)
        except QemuImgError as exc:
            self.fail_from(exc)
        except AtomicError as exc:
            self.fail('Cannot %s %s: %s' % (what, self.path, exc.msg))
        except OSError as exc:
            self.fail('Cannot %s %s: %s' % (what, self.path, exc))
        self.result['duration'] = round(time.monotonic() - start, 3)
        return produced
