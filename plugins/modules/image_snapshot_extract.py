#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_snapshot_extract
short_description: Extract an internal snapshot of an image into an image of its own
version_added: 0.1.0
description:
  - Writes O(dest) with the disk state of internal snapshot O(snapshot) of O(src), as Nova's C(extract_snapshot)
    does, with C(qemu-img convert -f SRC_FORMAT -l snapshot.name=NAME -O DEST_FORMAT). (qemu removed the older
    C(convert -s) in version 3.0.)
  - A snapshot that does not exist fails the task before anything is written, listing the snapshots that do.
  - An internal snapshot does not change while the image around it does (a running guest writes to the image all the
    time), so the record kept on O(dest) identifies the source by the image's inode and device and the snapshot's ID,
    name and date, not by the image's size and modification time. A re-run is a no-op while that snapshot exists
    unchanged, even if the image is in use; a snapshot deleted and taken again under the same name is extracted again.
  - An existing O(dest) without a record cannot be compared with a snapshot without reading both whole, so it is
    refused unless O(force=true).
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - ansible.builtin.files
  - hypervisor.images.convert
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - In check mode the source is inspected, the snapshot looked up and the result measured, exactly as for real;
        nothing is written but the file of the O_DIRECT probe of O(cache_mode=auto), which is removed at once.
  diff_mode:
    support: full
    details:
      - The diff shows O(dest)'s state, format, virtual size and source before and after.
options:
  src:
    description:
      - Path of the image that holds the snapshot, a file or a block device.
    type: path
    required: true
  src_format:
    description:
      - Format of O(src). It is always passed to qemu-img explicitly; a source whose header declares another format is
        refused.
    type: str
    default: qcow2
    choices: [qcow2]
  snapshot:
    description:
      - Name of the internal snapshot to extract (as C(qemu-img snapshot -l) and
        M(hypervisor.images.qemu_image_info) list it).
    type: str
    required: true
seealso:
  - module: hypervisor.images.qemu_image_info
  - module: hypervisor.images.image_convert
'''

EXAMPLES = r'''
- name: Pull the state before an upgrade out of an instance disk as a raw image
  hypervisor.images.image_snapshot_extract:
    src: /var/lib/nova/instances/0b7e/disk
    snapshot: before-upgrade
    dest: /var/lib/nova/instances/snapshots/0b7e-before-upgrade.raw
    dest_format: raw
    allow_backing_file: true  # the instance disk is an overlay on a cached base image

- name: Extract a snapshot into a compressed qcow2 for upload
  hypervisor.images.image_snapshot_extract:
    src: /srv/vm/db.qcow2
    snapshot: nightly
    dest: /srv/export/db-nightly.qcow2
    dest_format: qcow2
    compress: true
'''

RETURN = r'''
dest:
  description: Absolute path of the written image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
src:
  description: Absolute path of the image that holds the snapshot.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk
src_format:
  description: Format the source was read as.
  returned: when the source was inspected
  type: str
  sample: qcow2
format:
  description: Format of O(dest).
  returned: success
  type: str
  sample: raw
virtual_size:
  description: Virtual size of O(dest) in bytes.
  returned: success
  type: int
  sample: 21474836480
actual_size:
  description: Bytes O(dest) occupies on disk. V(null) in check mode when it would be written.
  returned: success
  type: int
  sample: 1310720000
cache_mode:
  description:
    - Cache mode used to write O(dest); in check mode, the one a real run would use (the O_DIRECT probe of
      O(cache_mode=auto) runs in check mode too, and removes its file).
  returned: when O(dest) was written or would be
  type: str
  sample: none
required_bytes:
  description: Bytes the result needs according to C(qemu-img measure).
  returned: when O(dest) was written or would be
  type: int
  sample: 1310720000
reason:
  description: Why O(dest) was written.
  returned: when O(dest) was written or would be
  type: str
  sample: the source changed (date_nsec, date_sec, snapshot_id)
record:
  description: Where the source record was stored, V(xattr) or V(sidecar).
  returned: when a record was written
  type: str
  sample: xattr
cmd:
  description: The qemu-img command line that ran (in check mode, that would run, with O(dest) in place of the
    temporary file).
  returned: when O(dest) was written or would be
  type: list
  elements: str
  sample: [/usr/bin/qemu-img, convert, -q, -f, qcow2, -O, raw, -t, none, --, /srv/images/u.qcow2,
           /var/lib/nova/instances/_base/.u.abcd1234.part]
duration:
  description: Seconds the write took, including the sync and rename.
  returned: when O(dest) was written
  type: float
  sample: 12.731
snapshot:
  description: The extracted snapshot as C(qemu-img info) lists it.
  returned: when the snapshot was found
  type: dict
  sample: {id: '1', name: before-upgrade, date: '2026-11-21T10:00:00Z', date_sec: 1795255200, vm_state_size: 0}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._convert import ConvertTask, convert_argument_spec
from ansible_collections.hypervisor.images.plugins.module_utils._identity import source_record


class SnapshotExtract(ConvertTask):

    can_adopt = False
    action = 'extract a snapshot of'

    def __init__(self, module):
        super(SnapshotExtract, self).__init__(module)
        self.snapshot = None

    def inspect_source(self):
        self.vet_source(self.params['src_format'])
        name = self.params['snapshot']
        matches = [snap for snap in self.src_facts['snapshots'] if snap.get('name') == name]
        if not matches:
            listed = ', '.join('%s (id %s, %s)' % (snap.get('name'), snap.get('id'), snap.get('date'))
                               for snap in self.src_facts['snapshots']) or 'none'
            self.fail('%s has no internal snapshot named %r; nothing was written. Its snapshots: %s.'
                      % (self.src, name, listed))
        if len(matches) > 1:
            self.fail('%s has %d internal snapshots named %r (ids %s); qemu-img cannot tell them apart by name. '
                      'Delete or rename the extra ones.'
                      % (self.src, len(matches), name, ', '.join(str(snap.get('id')) for snap in matches)))
        self.snapshot = matches[0]
        self.result['snapshot'] = self.snapshot

    def wanted_record(self):
        image = self.source_identity()
        identity = {'inode': image['inode'], 'device': image['device'], 'snapshot_id': self.snapshot.get('id'),
                    'snapshot_name': self.snapshot.get('name'), 'date_sec': self.snapshot.get('date_sec'),
                    'date_nsec': self.snapshot.get('date_nsec')}
        if 'chain' in image:
            identity['chain'] = image['chain']
        return source_record(self.src, identity=identity, src_format=self.src_format, dest_format=self.dest_format,
                             compress=self.params['compress'], options=self.options)

    def convert_kwargs(self):
        return {'snapshot': self.snapshot['name']}


def main():
    argument_spec = convert_argument_spec()
    argument_spec['src_format'] = dict(type='str', default='qcow2', choices=['qcow2'])
    argument_spec['snapshot'] = dict(type='str', required=True)
    module = AnsibleModule(argument_spec=argument_spec, add_file_common_args=True, supports_check_mode=True)
    SnapshotExtract(module).run()


if __name__ == '__main__':
    main()
