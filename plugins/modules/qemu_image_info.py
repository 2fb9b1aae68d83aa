#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: qemu_image_info
short_description: Read the facts of a disk image safely
version_added: 0.1.0
description:
  - Returns the format, sizes, backing file, snapshots and format-specific details of a disk image, from
    C(qemu-img info --output=json).
  - qemu-img never guesses the format. A declared O(format) is passed as it is; otherwise the format is read from the
    header magic by the module itself, in pure Python, and passed explicitly.
  - A file whose header declares another format than O(format) says (a raw disk that carries a qcow2 header, say)
    makes the task fail instead of being read as that other format.
  - C(qemu-img info) runs with C(-U) (force-share), so images that running virtual machines hold open can be read, and
    under resource limits (1 GiB of address space, 30 s of CPU time), so a hostile header cannot exhaust the host.
  - A missing O(path) is not an error; the result has RV(exists=false).
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - hypervisor.images.attributes
  - hypervisor.images.attributes.info_module
  - hypervisor.images.attributes.actiongroup_images
options:
  path:
    description:
      - Path of the image file, or of a block device that holds an image.
    type: path
    required: true
  format:
    description:
      - Format the image is declared to be in.
      - When set, the image is opened as this format, and a header that declares another format fails the task.
      - When omitted, the format is read from the header magic; a file without known magic is read as V(raw).
    type: str
  backing_chain:
    description:
      - Also return the facts of every image in the backing chain, in RV(backing_chain).
    type: bool
    default: false
  check:
    description:
      - Also check the image's metadata for consistency with C(qemu-img check --output=json) and return what it found
        in RV(check).
      - The check only reads (C(-U), so an image in use can be checked, though a running guest may change it
        meanwhile) and runs under the same resource limits as C(qemu-img info). It reads the image's own metadata
        only, never the backing file. The task never reports a change.
      - Damage does not fail the task; test RV(check.corruptions) and RV(check.leaks). Repair leaks with
        M(hypervisor.images.qemu_image) (O(hypervisor.images.qemu_image#module:repair=leaks)).
      - Raw images have no metadata to check; for them RV(check) is V(null).
    type: bool
    default: false
seealso:
  - module: hypervisor.images.qemu_image
  - module: hypervisor.images.cow_image
  - module: hypervisor.images.image_snapshot_extract
'''

EXAMPLES = r'''
- name: Read the facts of an instance disk
  hypervisor.images.qemu_image_info:
    path: /var/lib/nova/instances/0b7e/disk
  register: disk

- name: Show its virtual size and backing file
  ansible.builtin.debug:
    msg: "{{ disk.virtual_size | human_readable }} on {{ disk.backing_file | default('no backing file', true) }}"

- name: Insist that an uploaded image is raw (fails if its header says otherwise)
  hypervisor.images.qemu_image_info:
    path: /srv/uploads/image.img
    format: raw

- name: Walk an overlay's whole backing chain
  hypervisor.images.qemu_image_info:
    path: /var/lib/nova/instances/0b7e/disk
    backing_chain: true
  register: chain

- name: List the internal snapshots of an image
  ansible.builtin.debug:
    msg: "{{ chain.snapshots | map(attribute='name') | list }}"

- name: Check an image after a host crash
  hypervisor.images.qemu_image_info:
    path: /var/lib/nova/instances/0b7e/disk
    check: true
  register: checked

- name: Fail on damage
  ansible.builtin.assert:
    that:
      - checked.check.corruptions == 0
    fail_msg: "{{ checked.path }} is corrupt: {{ checked.check }}"
'''

RETURN = r'''
exists:
  description: Whether O(path) exists. All other facts except RV(path) are absent when it does not.
  returned: always
  type: bool
  sample: true
path:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk
format:
  description: Format of the image.
  returned: when RV(exists=true)
  type: str
  sample: qcow2
virtual_size:
  description: Size of the disk the guest sees, in bytes.
  returned: when RV(exists=true)
  type: int
  sample: 21474836480
actual_size:
  description: Bytes the image file occupies on disk.
  returned: when RV(exists=true)
  type: int
  sample: 1310720
cluster_size:
  description: Cluster size in bytes, for formats that have clusters.
  returned: when RV(exists=true)
  type: int
  sample: 65536
backing_file:
  description: Backing file as recorded in the image (may be relative to the image's directory).
  returned: when RV(exists=true)
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
full_backing_file:
  description: Backing file resolved the way qemu resolves it.
  returned: when RV(exists=true)
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
backing_format:
  description: Format of the backing file as recorded in the image.
  returned: when RV(exists=true)
  type: str
  sample: raw
data_file:
  description: External data file of a qcow2 image, if it has one.
  returned: when RV(exists=true)
  type: str
  sample: null
snapshots:
  description: Internal snapshots of the image.
  returned: when RV(exists=true)
  type: list
  elements: dict
  contains:
    id:
      description: Snapshot ID.
      type: str
      sample: '1'
    name:
      description: Snapshot name.
      type: str
      sample: before-upgrade
    date:
      description: Creation time, UTC, ISO 8601.
      type: str
      sample: '2026-11-21T10:00:00Z'
    date_sec:
      description: Creation time, seconds since the epoch.
      type: int
      sample: 1795255200
    vm_state_size:
      description: Bytes of saved virtual machine state.
      type: int
      sample: 0
encrypted:
  description: Whether the image is encrypted.
  returned: when RV(exists=true)
  type: bool
  sample: false
dirty:
  description: Whether the image's dirty flag is set (it was not closed cleanly).
  returned: when RV(exists=true)
  type: bool
  sample: false
format_specific:
  description: Format-specific details as qemu-img reports them, with dashes in keys turned into underscores.
  returned: when RV(exists=true)
  type: dict
  sample: {type: qcow2, data: {compat: '1.1', lazy_refcounts: false, refcount_bits: 16, corrupt: false}}
check:
  description:
    - What C(qemu-img check) found, with O(check=true); V(null) for raw images, which have nothing to check.
  returned: when O(check=true) and RV(exists=true)
  type: dict
  contains:
    corruptions:
      description: Number of corruptions found (0 for a sound image).
      type: int
      sample: 0
    leaks:
      description: Number of leaked clusters (allocated but unused; wasted space, not damage).
      type: int
      sample: 2
    check_errors:
      description: Number of errors that kept the check from completing some part.
      type: int
      sample: 0
    image_end_offset:
      description: Byte offset of the end of the image's used area in the file.
      type: int
      sample: 262144
    fragmented_clusters:
      description: Number of clusters that are not stored in order.
      type: int
      sample: 0
    allocated_clusters:
      description: Number of allocated clusters.
      type: int
      sample: 16
    total_clusters:
      description: Number of clusters the virtual size spans.
      type: int
      sample: 256
    corruptions_fixed:
      description: Always 0 here (this module never repairs).
      type: int
      sample: 0
    leaks_fixed:
      description: Always 0 here (this module never repairs).
      type: int
      sample: 0
    cmd:
      description: The qemu-img command line that ran.
      type: list
      elements: str
      sample: [/usr/bin/qemu-img, check, --output=json, -U,
               'json:{"backing": null, "driver": "qcow2", "file": {"driver": "file", "filename": "/images/disk"}}']
backing_chain:
  description: Facts of every image in the chain, the image itself first, each with the keys above.
  returned: when O(backing_chain=true) and RV(exists=true)
  type: list
  elements: dict
  sample: [{path: /var/lib/nova/instances/0b7e/disk, format: qcow2}, {path: /var/lib/nova/instances/_base/x, format: raw}]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._fs import (
    DIRECTORY,
    MISSING,
    path_kind,
)
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import (
    CHECKABLE,
    ImageNotFoundError,
    QemuImg,
    image_facts,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._task import access_problem


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            format=dict(type='str'),
            backing_chain=dict(type='bool', default=False),
            check=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    path = os.path.abspath(module.params['path'])
    try:
        kind = path_kind(path)
        if kind == MISSING:
            module.exit_json(changed=False, exists=False, path=path)
        if kind == DIRECTORY:
            module.fail_json(msg='%s is a directory, not an image: give the path of an image file inside it.' % path,
                             path=path)
        qemu = QemuImg()
        facts = image_facts(qemu, path, declared_format=module.params['format'],
                            backing_chain=module.params['backing_chain'])
        if module.params['check']:
            facts['check'] = qemu.check(path, facts['format']) if facts['format'] in CHECKABLE else None
    except ImageNotFoundError as exc:
        if path_kind(path) == MISSING:  # removed while we looked
            module.exit_json(changed=False, exists=False, path=path)
        module.fail_json(path=path, **exc.to_result())
    except TaskError as exc:
        # qemu-img missing or failing, a header that contradicts the declared format, a file that cannot be read
        module.fail_json(path=path, **exc.to_result())
    except OSError as exc:
        module.fail_json(msg=access_problem(exc, path, need='read'), path=path)
    module.exit_json(changed=False, exists=True, **facts)


if __name__ == '__main__':
    main()
