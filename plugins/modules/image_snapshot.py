#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_snapshot
short_description: Create and delete internal snapshots of qcow2 images
version_added: 0.1.0
description:
  - Makes sure an internal snapshot named O(name) exists in the qcow2 image O(path) (C(qemu-img snapshot -c)), or that
    none does (C(qemu-img snapshot -d)). The snapshot list is read with C(qemu-img info --output=json), so a re-run
    that has nothing to do changes nothing and reads no image data.
  - qemu-img opens the image as O(format) and nothing else. C(qemu-img snapshot) takes no C(-f); the module names the
    format as the driver of an explicit image specification instead, with the file opened as a plain file (never read
    as a protocol) and without its backing file, which a snapshot does not need. A backing file named in the header is
    therefore never opened, not even a hostile one.
  - The image is inspected in pure Python first; one the safety checks refuse (an external data file, a backing name
    qemu would read as a protocol, unknown features, ...) fails the task and nothing runs.
  - A snapshot is written into the image, so it is never taken with C(-U) (force-share). An image that another process
    holds open (a running virtual machine, C(qemu-nbd), C(qemu-io)) makes the task fail and changes nothing; take
    snapshots of running guests through libvirt (C(virsh snapshot-create)) instead.
  - Use M(hypervisor.images.image_snapshot_extract) to copy a snapshot into an image of its own.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the snapshot list and reports what would be created or deleted.
  diff_mode:
    support: full
    details:
      - The diff shows the names of the image's snapshots before and after.
options:
  path:
    description:
      - Path of the qcow2 image.
      - It must exist; a file of another format is refused.
    type: path
    required: true
  name:
    description:
      - Name (tag) of the snapshot.
      - It must not be empty or start with C(-). A name made of digits only is refused, because qemu-img looks snapshots
        up by ID or by name with the same argument, so C(2) could mean the snapshot whose ID is 2.
    type: str
    required: true
  state:
    description:
      - V(present) creates the snapshot when the image has none of that name.
      - V(absent) deletes every snapshot of that name.
    type: str
    choices: [present, absent]
    default: present
  format:
    description:
      - Format of the image. Only qcow2 images hold internal snapshots.
    type: str
    choices: [qcow2]
    default: qcow2
notes:
  - Tasks that change the same image at once wait for each other on a lock file beside it.
seealso:
  - module: hypervisor.images.image_snapshot_extract
  - module: hypervisor.images.qemu_image_info
'''

EXAMPLES = r'''
- name: Take a snapshot of a stopped instance's disk before an upgrade
  hypervisor.images.image_snapshot:
    path: /var/lib/nova/instances/0b7e/disk
    name: before-upgrade

- name: Copy it into an image of its own
  hypervisor.images.image_snapshot_extract:
    src: /var/lib/nova/instances/0b7e/disk
    snapshot: before-upgrade
    dest: /srv/backup/0b7e-before-upgrade.qcow2
    dest_format: qcow2
    allow_backing_file: true

- name: Delete the snapshot once it is no longer needed
  hypervisor.images.image_snapshot:
    path: /var/lib/nova/instances/0b7e/disk
    name: before-upgrade
    state: absent
'''

RETURN = r'''
path:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk
snapshots:
  description: The image's internal snapshots after the task (in check mode, as they would be).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Snapshot name (tag).
      type: str
      sample: before-upgrade
    id:
      description: Snapshot ID; V(null) in check mode for a snapshot that would be created.
      type: str
      sample: '1'
    date:
      description: When the snapshot was taken, in UTC; V(null) in check mode for one that would be created.
      type: str
      sample: '2026-11-21T23:42:19Z'
    vm_state_size:
      description: Bytes of saved virtual machine state (0 for a disk-only snapshot).
      type: int
      sample: 0
cmd:
  description: The last qemu-img command line that ran (in check mode, that would run).
  returned: when a snapshot was created or deleted, or would be
  type: list
  elements: str
  sample: [/usr/bin/qemu-img, snapshot, -q, -c, before-upgrade,
           'json:{"backing": null, "driver": "qcow2", "file": {"driver": "file", "filename": "/var/lib/nova/instances/0b7e/disk"}}']
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._fs import MISSING
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import refuse_in_use
from ansible_collections.hypervisor.images.plugins.module_utils._task import BACKING, ImageTask

SNAPSHOT_KEYS = ('name', 'id', 'date', 'vm_state_size')


def name_problem(name):
    """Why ``name`` cannot be a snapshot name for this module, or None."""
    if not name:
        return 'the name is empty'
    if name.startswith('-'):
        return 'a name that starts with - could be read as an option'
    if name.isdigit():
        return ('a name made of digits only could match the ID of another snapshot (qemu-img looks snapshots up by ID '
                'or name); add a letter, for example snap-%s' % name)
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in name):
        return 'the name contains control characters'
    return None


class ImageSnapshot(ImageTask):

    device_hint = 'internal snapshots live in qcow2 image files'

    def __init__(self, module):
        super(ImageSnapshot, self).__init__(module, module.params['path'])
        self.name = self.params['name']
        self.format = self.params['format']
        self.inspection = None
        self.result['path'] = self.path

    def validate(self):
        problem = name_problem(self.name)
        if problem:
            self.fail('name: %r cannot be used: %s.' % (self.name, problem))

    def preflight(self):
        kind = self.refuse_non_file(what='a qcow2 image')
        if kind == MISSING:
            self.fail('%s does not exist; create the image first (hypervisor.images.qemu_image or cow_image).'
                      % self.path)
        return kind

    def decide_and_act(self, kind):
        found = detect_format(self.path)
        if found != self.format:
            self.fail('%s is a %s image, not %s: only qcow2 images hold internal snapshots. Convert it with '
                      'hypervisor.images.image_convert (dest_format: qcow2) first.' % (self.path, found, self.format))
        # qemu-img opens the image alone (its backing file is never opened), but not one the safety checks refuse.
        self.inspection = self.vet(self.path, claimed=self.format, own_backing=True, chain=False)[0]
        snapshots = self.snapshots()
        self.diff['before'] = {'path': self.path, 'snapshots': [snap['name'] for snap in snapshots]}
        matching = [snap for snap in snapshots if snap['name'] == self.name]
        if self.params['state'] == 'present' and not matching:
            self.change(dict(create=self.name), 1,
                        snapshots + [{'name': self.name, 'id': None, 'date': None, 'vm_state_size': 0}])
        elif self.params['state'] == 'absent' and matching:
            # qemu-img deletes the first snapshot of that name each time
            self.change(dict(delete=self.name), len(matching),
                        [snap for snap in snapshots if snap['name'] != self.name])
        else:
            self.result['snapshots'] = snapshots
        self.diff['after'] = {'path': self.path, 'snapshots': [snap['name'] for snap in self.result['snapshots']]}

    def snapshots(self):
        facts = self.facts(inspection=self.inspection, allow=BACKING)
        return [dict((key, snap.get(key)) for key in SNAPSHOT_KEYS) for snap in facts['snapshots']]

    def change(self, action, times, predicted):
        refuse_in_use(self.path, 'snapshot')
        self.result['changed'] = True
        self.result['cmd'] = self.qemu.snapshot_argv(self.path, self.format, **action)
        if self.module.check_mode:
            self.result['snapshots'] = predicted
            return
        for dummy in range(times):
            self.result['cmd'] = self.qemu.snapshot(self.path, self.format, **action).cmd
        self.result['snapshots'] = self.snapshots()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            format=dict(type='str', default='qcow2', choices=['qcow2']),
        ),
        supports_check_mode=True,
    )
    ImageSnapshot(module).run()


if __name__ == '__main__':
    main()
