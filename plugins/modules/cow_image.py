#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cow_image
short_description: Create qcow2 overlays on a backing image
version_added: 0.1.0
description:
  - Makes sure a qcow2 overlay (a copy-on-write image) exists on a given backing file, as Nova's C(create_cow_image)
    does for every instance disk on a cached base image.
  - The overlay is created with C(qemu-img create -f qcow2 -b BACKING -F BACKING_FORMAT) under a temporary name in
    the same directory, synced and renamed into place. The backing format is always written into the overlay;
    current qemu and libvirt refuse chains without it.
  - An existing overlay on the same backing file (compared as resolved absolute paths) and format is left alone. An
    overlay on another backing file makes the task fail, unless O(rebase) says how to move it.
  - A missing backing file fails the task before anything is written.
  - The decision reads only image metadata, never image data.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - hypervisor.images.qemu_img.backing_format
  - ansible.builtin.files
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the overlay's state, backing file, backing format and virtual size before and after.
options:
  path:
    description:
      - Path of the overlay.
    type: path
    required: true
  backing_file:
    description:
      - The image the overlay is based on. Required with O(state=present).
      - A relative path is relative to the overlay's directory, as qemu resolves it, and is written into the overlay
        as given, so that the pair can move together. Use an absolute path to pin the backing file.
    type: path
  backing_format:
    description:
      - Format of the backing file, written into the overlay.
      - When omitted, the format is read from the backing file's header magic by the module itself, in pure Python,
        and confirmed with a resource-limited C(qemu-img info); the result is returned in RV(backing_format).
      - When set, a backing file whose header declares another format makes the task fail.
    type: str
  size:
    description:
      - Virtual size of the overlay, as bytes or a size string such as V(20G). Every unit is a power of 1024.
      - It must not be smaller than the backing file's virtual size. When omitted, the overlay gets the backing
        file's virtual size.
      - A larger size than an existing overlay has grows it. Shrinking is refused; use
        M(hypervisor.images.qemu_image) with O(hypervisor.images.qemu_image#module:allow_shrink=true) if that is
        really meant.
    type: str
  cluster_size:
    description:
      - Cluster size of a new overlay, as bytes or a size string such as V(64K) or V(2M).
      - Defaults to the backing file's cluster size when the backing file is qcow2 (as Nova does), else to qemu's
        default.
      - For an existing overlay a different cluster size is reported as a warning; the overlay is not recreated.
    type: str
  state:
    description:
      - V(present) creates the overlay, or grows it to O(size).
      - V(absent) removes the overlay file. The backing file is never touched.
    type: str
    choices: [present, absent]
    default: present
  rebase:
    description:
      - What to do when an existing overlay is based on another backing file (or records another backing format).
      - V(no) fails the task, naming both backing files.
      - V(safe) runs C(qemu-img rebase), which copies into the overlay every cluster where the old and the new backing
        file differ, so the guest sees the same disk. Both backing files must be readable. It changes the overlay in
        place and can take as long as reading both backing files.
      - V(unsafe) runs C(qemu-img rebase -u), which only rewrites the backing file name and format in the overlay's
        header. Use it when the new backing file holds the same data as the old one (a moved or renamed base image);
        otherwise the guest's disk changes under it.
      - The overlay must not be in use by a running virtual machine; qemu-img refuses when it is locked.
    type: str
    choices: ['no', safe, unsafe]
    default: 'no'
  allow_backing_file:
    description:
      - Accept a base (O(backing_file)) that has a backing file of its own, making the overlay the top of a longer
        chain.
      - Before qemu-img opens any chain, every image in it is inspected in pure Python; names that qemu would read as
        a protocol or as C(json:), external data files, VMDK extent files, unknown features and images that are two
        formats at once are always refused. A backing file itself is refused unless this is set, since a hostile header
        can name any file on the host, and every guest on the overlay would read it.
      - The overlay's own backing file, O(backing_file), is of course accepted.
    type: bool
    default: false
notes:
  - The overlay is created with the mode a new file gets from the umask unless O(mode) is set; O(owner), O(group),
    O(mode) and the SELinux options are applied before the overlay appears under its final name.
seealso:
  - module: hypervisor.images.qemu_image
  - module: hypervisor.images.qemu_image_info
'''

EXAMPLES = r'''
- name: Create an instance disk on a cached base image
  hypervisor.images.cow_image:
    path: /var/lib/nova/instances/0b7e/disk
    backing_file: /var/lib/nova/instances/_base/ubuntu-24.04
    backing_format: raw
    size: 40G
    owner: nova
    group: nova
    mode: '0640'

- name: Let the module read the backing format (it is returned)
  hypervisor.images.cow_image:
    path: /srv/vm/web1.qcow2
    backing_file: /srv/images/debian-12.qcow2
  register: overlay

- name: Keep overlay and base relocatable with a relative backing path
  hypervisor.images.cow_image:
    path: /srv/vm/web2.qcow2
    backing_file: ../images/debian-12.qcow2

- name: Point overlays at a base image that was moved (same data, new path)
  hypervisor.images.cow_image:
    path: /srv/vm/web1.qcow2
    backing_file: /mnt/fast/images/debian-12.qcow2
    rebase: unsafe

- name: Remove an overlay
  hypervisor.images.cow_image:
    path: /srv/vm/web2.qcow2
    state: absent
'''

RETURN = r'''
path:
  description: Absolute path of the overlay.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk
format:
  description: Format of the overlay, always V(qcow2).
  returned: when O(state=present)
  type: str
  sample: qcow2
virtual_size:
  description: Virtual size of the overlay in bytes.
  returned: when O(state=present)
  type: int
  sample: 42949672960
actual_size:
  description: Bytes the overlay occupies on disk. V(null) in check mode when it would be created.
  returned: when O(state=present)
  type: int
  sample: 200704
cluster_size:
  description: Cluster size of the overlay in bytes.
  returned: when O(state=present)
  type: int
  sample: 65536
backing_file:
  description: Backing file as recorded in the overlay.
  returned: when O(state=present)
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
full_backing_file:
  description: Backing file resolved as qemu resolves it (relative paths against the overlay's directory).
  returned: when O(state=present)
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
backing_format:
  description: Format of the backing file as recorded in the overlay (detected when O(backing_format) was omitted).
  returned: when O(state=present)
  type: str
  sample: raw
cmd:
  description: The qemu-img command line that ran (or would run in check mode) to change the overlay.
  returned: when a command ran or would run
  type: list
  elements: str
  sample: [/usr/bin/qemu-img, create, -q, -f, qcow2, -b, /var/lib/nova/instances/_base/ubuntu-24.04, -F, raw, --,
           /var/lib/nova/instances/0b7e/.disk.abcd1234.part, '42949672960']
'''

import os

from ansible.module_utils.basic import AnsibleModule

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


def main():
    module = AnsibleModule(
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
    CowImage(module).run()


if __name__ == '__main__':
    main()
