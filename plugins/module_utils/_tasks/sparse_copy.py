# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the sparse_copy module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import errno
import os
import stat

from ansible_collections.hypervisor.images.plugins.module_utils._fs import FILE, MISSING, fs_usage, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._identity import (
    compare_record,
    file_identity,
    read_record,
    source_record,
    write_record,
)
from ansible_collections.hypervisor.images.plugins.module_utils._sparse import (
    REFLINK,
    ReflinkError,
    SparseCopyError,
    allocated_bytes,
    copy_file,
    data_bytes,
    same_content,
)
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes

# The record's settings: which module made the copy, and whether it is a clone.
MADE_BY = 'sparse_copy'


class SparseCopy(ImageTask):

    device_hint = ('sparse_copy replaces files atomically and refuses devices: write a raw image to a device with '
                   'qemu-img convert -n -O raw, or copy it to a file')

    def __init__(self, module):
        super(SparseCopy, self).__init__(module, module.params['dest'])
        self.src = os.path.abspath(self.params['src'])
        self.dest = self.path
        self.reflink = self.params['reflink']
        self.result.update({'src': self.src, 'dest': self.dest, 'method': None, 'bytes_copied': 0,
                            'apparent_size': None, 'allocated_before': 0, 'allocated_after': None, 'duration': 0.0,
                            'adopted': False, 'reasons': []})
        self.diff = {'before': {'path': self.dest}, 'after': {'path': self.dest}}

    def directory_hint(self):
        return ('give dest as the path of the copy inside it, for example %s'
                % os.path.join(self.dest, os.path.basename(self.src)))

    def preflight(self):
        src_kind = path_kind(self.src)
        if src_kind == MISSING:
            self.fail('The source %s does not exist; %s was left as it is. Check src, or create the source first.'
                      % (self.src, self.dest))
        if src_kind != FILE:
            self.fail('The source %s is a %s; sparse_copy copies regular files. Read devices with qemu-img convert.'
                      % (self.src, src_kind))
        self.require_readable(self.src)
        kind = self.refuse_non_file(what='a regular file')
        if kind == MISSING:
            self.require_directory()
        elif os.path.samefile(self.src, self.dest):
            self.fail('src and dest are the same file (%s and %s); give another dest.' % (self.src, self.dest))
        return kind

    def wanted_record(self, stored, reflinked=None, identity=None):
        """The record a copy made now should carry; for reflink=auto a stored clone or copy both do.

        ``identity`` is that of the source as it was copied (the source as it is now when None).
        """
        if reflinked is None:
            if self.reflink == 'auto':
                reflinked = ((stored or {}).get('settings') or {}).get('reflinked')
            else:
                reflinked = self.reflink == 'always'
        return source_record(self.src, identity=identity, made_by=MADE_BY, reflinked=reflinked)

    def decide_and_act(self, kind):
        self.diff['before'].update(self.describe_dest(kind))
        self.result['allocated_before'] = allocated_bytes(self.dest)
        if kind == MISSING:
            reasons = ['%s does not exist' % self.dest]
        elif self.params['force']:
            reasons = ['force: true']
        else:
            reasons = self.reasons_to_copy()

        if reasons:
            self.result.update(changed=True, reasons=reasons)
            self.copy()
        else:
            self.diff['after'].update(self.diff['before'])
            self.update_file_attributes()
            self.result['apparent_size'] = os.stat(self.dest).st_size
            self.result['allocated_after'] = allocated_bytes(self.dest)

    def reasons_to_copy(self):
        """Why an existing dest must be copied again; empty when it is up to date (or adopted)."""
        stored = read_record(self.dest)
        if stored is not None:
            return compare_record(stored, self.wanted_record(stored))
        self.require_readable(self.dest, what='The destination')
        if not same_content(self.src, self.dest):
            self.fail('%s exists and differs from %s, and carries no record that this module copied it from there '
                      '(it was made or modified by something else). Set force: true to replace it with a copy of %s.'
                      % (self.dest, self.src, self.src))
        if self.reflink == 'always':
            # equal, but not known to be a clone: make one (nothing is lost)
            return ['reflink: always and %s is not a clone this module made' % self.dest]
        self.result['adopted'] = True
        if not self.module.check_mode:
            write_record(self.dest, self.dest, self.wanted_record(None, reflinked=False))
        return []

    def describe_dest(self, kind):
        if kind == MISSING:
            return {'state': 'absent'}
        stored = read_record(self.dest)
        source = None
        if stored is not None:
            source = dict((key, (stored.get('source') or {}).get(key)) for key in ('path', 'size', 'mtime_ns'))
        return {'state': 'present', 'apparent_size': os.stat(self.dest).st_size, 'source': source}

    def copy(self):
        identity = file_identity(self.src)
        self.diff['after'].update({'state': 'present', 'apparent_size': identity['size'],
                                   'source': {'path': self.src, 'size': identity['size'],
                                              'mtime_ns': identity['mtime_ns']}})
        self.result['apparent_size'] = identity['size']
        if self.module.check_mode:
            self.result['bytes_copied'] = data_bytes(self.src)
            return
        copied = self.write_atomically(
            lambda tmp: copy_file(self.src, tmp, reflink=self.reflink),
            record=lambda copied: self.wanted_record(None, reflinked=copied.method == REFLINK, identity=copied.source),
            what='copy %s to' % self.src, mode=stat.S_IMODE(os.stat(self.src).st_mode))
        self.result.update(method=copied.method, bytes_copied=copied.bytes_copied,
                           apparent_size=copied.apparent_size)
        self.result['allocated_after'] = allocated_bytes(self.dest)

    def write_failed(self, exc, what):
        self.result['changed'] = False
        if isinstance(exc, ReflinkError):
            self.fail('Cannot clone %s to %s: %s. Use reflink: auto to copy where a clone is not possible, or put '
                      'both on one XFS (reflink=1) or Btrfs file system. %s was left as it was.'
                      % (self.src, self.dest, exc.msg, self.dest))
        if isinstance(exc, SparseCopyError):
            self.fail('Cannot copy %s to %s: %s. %s was left as it was.' % (self.src, self.dest, exc.msg, self.dest))
        if isinstance(exc, OSError):
            self.fail(self.os_error_message(exc))
        super(SparseCopy, self).write_failed(exc, what)

    def os_error_message(self, exc):
        where = exc.filename or self.dest
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return ('No space left for %s on the file system of %s (%s): the copy needs about %s for the data of %s '
                    'and %s is free. The partial copy was removed and %s was left as it was. Free some space or copy '
                    'to a larger file system.'
                    % (self.dest, os.path.dirname(self.dest), exc.strerror, human_and_bytes(data_bytes(self.src)),
                       self.src, human_and_bytes(fs_usage(self.dest)['free']), self.dest))
        return ('Cannot copy %s to %s: %s (%s). The partial copy was removed and %s was left as it was.'
                % (self.src, self.dest, exc.strerror or exc, where, self.dest))


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            reflink=dict(type='str', default='auto', choices=['auto', 'always', 'never']),
            force=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
