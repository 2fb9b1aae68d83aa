# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the cow_image module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import os

from ansible_collections.hypervisor.images.plugins.module_utils._fs import BLOCK_DEVICE, FILE, MISSING, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import FORMATS, QemuImgError, has_protocol
from ansible_collections.hypervisor.images.plugins.module_utils._task import BACKING, ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes


def resolve_backing(overlay, backing):
    """The path qemu opens for ``backing`` when it is recorded in ``overlay``."""
    if os.path.isabs(backing):
        return backing
    return os.path.normpath(os.path.join(os.path.dirname(overlay), backing))


def same_file(first, second):
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)


class CowImage(ImageTask):

    def __init__(self, module):
        super(CowImage, self).__init__(module, module.params['path'])
        self.result['path'] = self.path
        self.backing = None
        self.backing_path = None
        self.backing_facts = None
        self.backing_format = None
        self.size = None
        self.cluster_size = None

    def validate(self):
        self.size = self.parse_size_param('size')
        self.cluster_size = self.parse_size_param('cluster_size', minimum=512, round_to=None)
        if self.cluster_size is not None and self.cluster_size & (self.cluster_size - 1):
            self.fail('cluster_size: %d is not a power of two; qcow2 clusters are 512 bytes to 2 MiB, powers of two '
                      '(for example 64K or 2M).' % self.cluster_size)
        if self.params['state'] == 'present' and not self.params['backing_file']:
            self.fail('backing_file is required with state: present: give the image the overlay is based on.')
        backing = self.params['backing_file']
        if backing and has_protocol(backing):
            self.fail('backing_file: qemu would read %r as the protocol %r, not as a file. Give an absolute path, or '
                      './%s for a file of that name beside the overlay.' % (backing, backing.split(':', 1)[0], backing))

    def preflight(self):
        kind = self.refuse_non_file(what='an overlay file')
        if self.params['state'] == 'absent':
            return kind
        if kind == MISSING:
            self.require_directory()
        return kind

    def lock(self, kind):
        if kind == MISSING and self.params['state'] == 'absent':
            return None
        return super(CowImage, self).lock(kind)

    def inspect_backing(self):
        """Find the backing file and its format and size before anything is written."""
        self.backing = self.params['backing_file']
        self.backing_path = resolve_backing(self.path, self.backing)
        kind = path_kind(self.backing_path)
        where = '' if os.path.isabs(self.backing) else ' (%s, relative to the overlay\'s directory)' % self.backing_path
        if kind == MISSING:
            self.fail('The backing file %s%s does not exist. Create or fetch it first; nothing was written.'
                      % (self.backing, where))
        if kind not in (FILE, BLOCK_DEVICE):
            self.fail('The backing file %s%s is a %s, not an image.' % (self.backing, where, kind))
        chain = self.vet(self.backing_path, claimed=self.params['backing_format'],
                         allow_backing=self.params['allow_backing_file'])
        self.backing_facts = self.facts(self.backing_path, inspection=chain[0], allow=self.allowed())
        self.backing_format = self.backing_facts['format']
        if self.size is not None and self.size < self.backing_facts['virtual_size']:
            self.fail('size %s is smaller than the backing file %s, which is %s; an overlay cannot be smaller than '
                      'its backing file. Leave size out to use the backing file\'s size.'
                      % (human_and_bytes(self.size), self.backing_path,
                         human_and_bytes(self.backing_facts['virtual_size'])))
        if self.cluster_size is None and self.backing_format == 'qcow2':
            self.cluster_size = self.backing_facts.get('cluster_size')

    def decide_and_act(self, kind):
        if self.params['state'] == 'absent':
            return self.remove(kind)
        self.inspect_backing()
        if kind == MISSING:
            self.create()
        else:
            self.update()

    def wanted(self, virtual_size):
        return {'path': self.path, 'state': 'present', 'backing_file': self.backing,
                'backing_format': self.backing_format, 'virtual_size': virtual_size}

    def create(self):
        options = {'cluster_size': self.cluster_size} if self.cluster_size else None
        virtual_size = self.size or self.backing_facts['virtual_size']
        self.result['changed'] = True
        self.diff['before'] = {'path': self.path, 'state': 'absent'}
        self.diff['after'] = self.wanted(virtual_size)
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.create_argv(self.path, 'qcow2', size=self.size, backing_file=self.backing,
                                                       backing_format=self.backing_format, options=options)
            self.result.update({'format': 'qcow2', 'virtual_size': virtual_size, 'actual_size': None,
                                'cluster_size': self.cluster_size or 65536, 'backing_file': self.backing,
                                'backing_format': self.backing_format, 'full_backing_file': self.backing_path})
            return
        result = self.write_atomically(lambda tmp: self.qemu.create(
            tmp, 'qcow2', size=self.size, backing_file=self.backing, backing_format=self.backing_format,
            options=options))
        self.result['cmd'] = result.cmd
        self.report_overlay(self.facts(declared_format='qcow2'))

    def update(self):
        found = detect_format(self.path)
        if found != 'qcow2':
            self.fail('%s exists but is a %s image, not a qcow2 overlay. Move it away, or remove it with state: absent '
                      'if its data is not needed.' % (self.path, found))
        # The overlay's own backing file is expected; the rest of its chain, data files and names qemu would read
        # as protocols are vetted before qemu-img opens the chain to rebase or grow it.
        chain = self.vet(self.path, claimed='qcow2', own_backing=True, allow_backing=self.params['allow_backing_file'])
        facts = self.facts(inspection=chain[0], allow=BACKING)
        self.diff['before'] = {'path': self.path, 'state': 'present', 'backing_file': facts['backing_file'],
                               'backing_format': facts['backing_format'], 'virtual_size': facts['virtual_size']}
        self.diff['after'] = dict(self.diff['before'])

        if self.explicit_cluster_size_differs(facts):
            self.module.warn('%s already exists with cluster_size %s, not %s; the cluster size only applies when an '
                             'overlay is created.' % (self.path, facts['cluster_size'], self.cluster_size))

        if not self.same_backing(facts):
            facts = self.rebase(facts)
        if self.size is not None and self.size != facts['virtual_size']:
            facts = self.grow(facts)

        self.update_file_attributes()
        self.report_overlay(facts)

    def allowed(self):
        return BACKING if self.params['allow_backing_file'] else ()

    def explicit_cluster_size_differs(self, facts):
        return self.params['cluster_size'] is not None and facts.get('cluster_size') != self.cluster_size

    def same_backing(self, facts):
        recorded = facts.get('full_backing_file') or (
            resolve_backing(self.path, facts['backing_file']) if facts.get('backing_file') else None)
        if recorded is None or not same_file(recorded, self.backing_path):
            return False
        return facts.get('backing_format') == self.backing_format

    def rebase(self, facts):
        mode = self.params['rebase']
        old = facts.get('backing_file')
        old_text = ('%s (%s)' % (old, facts.get('backing_format') or 'no recorded format')) if old else 'no backing file'
        if mode == 'no':
            self.report_overlay(facts)
            self.fail('%s is based on %s, not on %s (%s). Set rebase: safe to move it while keeping what the guest '
                      'sees (copies the clusters where the two differ), or rebase: unsafe if the new backing file '
                      'holds the same data (rewrites only the header).'
                      % (self.path, old_text, self.backing, self.backing_format))
        self.result['changed'] = True
        self.diff['after'].update({'backing_file': self.backing, 'backing_format': self.backing_format})
        unsafe = mode == 'unsafe'
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.rebase_argv(self.path, self.backing, self.backing_format, unsafe=unsafe)
            return dict(facts, backing_file=self.backing, backing_format=self.backing_format,
                        full_backing_file=self.backing_path)
        try:
            self.result['cmd'] = self.qemu.rebase(self.path, self.backing, self.backing_format, unsafe=unsafe).cmd
        except QemuImgError as exc:
            hint = ('' if unsafe else ' A safe rebase needs the old backing file too; if it is gone and the new one '
                    'holds the same data, use rebase: unsafe.')
            self.fail_from(exc, exc.msg + hint)
        return self.facts(declared_format='qcow2')

    def grow(self, facts):
        current = facts['virtual_size']
        if self.size < current:
            self.report_overlay(facts)
            self.fail('%s is %s; size %s would shrink it. cow_image never shrinks an overlay; use '
                      'hypervisor.images.qemu_image with allow_shrink: true if that is really meant.'
                      % (self.path, human_and_bytes(current), human_and_bytes(self.size)))
        self.result['changed'] = True
        self.diff['after']['virtual_size'] = self.size
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.resize_argv(self.path, 'qcow2', self.size)
            return dict(facts, virtual_size=self.size)
        self.result['cmd'] = self.qemu.resize(self.path, 'qcow2', self.size).cmd
        return self.facts(declared_format='qcow2')

    def report_overlay(self, facts):
        self.report(facts)
        self.result['full_backing_file'] = facts.get('full_backing_file')


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            path=dict(type='path', required=True),
            backing_file=dict(type='path'),
            backing_format=dict(type='str', choices=list(FORMATS)),
            size=dict(type='str'),
            cluster_size=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            rebase=dict(type='str', default='no', choices=['no', 'safe', 'unsafe']),
            allow_backing_file=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
