#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_plan
short_description: Build a host's whole plan of directories and images in one call
version_added: 0.2.0
description:
  - Takes every directory and image a host should have - blank, converted and downloaded base images, overlays, flat
    copies, file systems and swap areas on ephemeral disks - and makes them in one module call, running the same code
    as the single modules (M(hypervisor.images.qemu_image), M(hypervisor.images.image_convert),
    M(hypervisor.images.image_fetch), M(hypervisor.images.cow_image), M(hypervisor.images.sparse_copy),
    M(hypervisor.images.mkfs)), entry by entry, in one process. A re-run that changes nothing costs one module
    call per host instead of one per image.
  - Each entry of O(images) is a mapping with one key, the module it runs, whose value holds that module's options,
    exactly as in a task. They are validated against that module's own options before anything runs, and behave as
    that module does (idempotence, safety checks on images the plan did not make, atomic writes, locks).
  - Entries run in dependency order - an entry that reads a file another entry writes (an overlay's backing file, a
    conversion's or a copy's source, the image a file system is made on) runs after that entry - else in the order
    given; the directories of O(directories) are made first.
  - When an entry fails, the plan stops there and fails naming the entry; the entries before it are done and stay
    done, and their results are returned in RV(results). A re-run carries on from there.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - Check mode plans as a whole. An entry whose input another entry of the plan would create (an overlay on a base
        that does not exist yet) is reported as would be created, with a diff from absent, instead of failing on the
        missing file; so check mode on a fresh host reports the whole plan, and the real run then does that.
  diff_mode:
    support: full
    details:
      - Each entry's diff is in its result in RV(results), and the task's diff lists them all.
options:
  directories:
    description:
      - Directories to create (with their parents) before any image, for example the image cache and the instance
        directories.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      mode:
        description: Its mode, as the O(ansible.builtin.file#module:mode) of ansible.builtin.file.
        type: raw
        default: '0755'
      owner:
        description: Its owner; defaults to O(defaults.owner).
        type: str
      group:
        description: Its group; defaults to O(defaults.group).
        type: str
      setype:
        description: Its SELinux type, where SELinux is enabled, as the O(ansible.builtin.file#module:setype) of
          ansible.builtin.file.
        type: str
  images:
    description:
      - The images, each a mapping with one key naming the module to run - V(qemu_image), V(image_convert),
        V(image_fetch), V(cow_image), V(sparse_copy) or V(mkfs), with or without the C(hypervisor.images.) prefix - and
        that module's options as its value.
    type: list
    elements: dict
    default: []
  defaults:
    description:
      - File attributes every entry gets unless it gives its own (as C(module_defaults) would); O(defaults.owner) and
        O(defaults.group) apply to the directories too.
    type: dict
    default: {}
    suboptions:
      owner:
        description: Owner of every image and directory.
        type: str
      group:
        description: Group of every image and directory.
        type: str
      mode:
        description: Mode of every image.
        type: raw
seealso:
  - module: hypervisor.images.qemu_image
  - module: hypervisor.images.image_fetch
  - module: hypervisor.images.mkfs
  - module: hypervisor.images.cow_image
  - module: hypervisor.images.image_convert
  - module: hypervisor.images.sparse_copy
'''

EXAMPLES = r'''
- name: Build the base images and the instances' disks of this host in one call
  hypervisor.images.image_plan:
    defaults:
      owner: nova
      group: nova
      mode: '0644'
    directories:
      - path: /var/lib/nova/instances/_base
      - path: /var/lib/nova/instances/0b7e
    images:
      - image_convert:
          src: /srv/images/ubuntu.qcow2
          src_format: qcow2
          dest: /var/lib/nova/instances/_base/ubuntu.raw
          dest_format: raw
      - cow_image:
          path: /var/lib/nova/instances/0b7e/disk
          backing_file: /var/lib/nova/instances/_base/ubuntu.raw
          backing_format: raw
          size: 20G
      - qemu_image:
          path: /var/lib/nova/instances/0b7e/disk.eph0
          format: raw
          size: 1G
  register: plan

- name: Show what was done
  ansible.builtin.debug:
    msg: "{{ plan.msg }}"
'''

RETURN = r'''
results:
  description:
    - One result per directory and image, in the order they ran, as a loop's results - each with C(module) (the module
      run, V(directory) for a directory), C(path), C(changed), C(diff) in diff mode, C(failed) and C(msg) for the entry
      that failed, and what that module returns.
  returned: always
  type: list
  elements: dict
  sample:
    - {module: directory, path: /var/lib/nova/instances/0b7e, changed: true}
    - {module: cow_image, path: /var/lib/nova/instances/0b7e/disk, changed: true, format: qcow2}
msg:
  description: A summary line, or on failure what failed, where, and what is already done.
  returned: always
  type: str
  sample: '5 entries: 2 changed, 3 unchanged'
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._plan import PlanRun


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type='list', elements='dict', default=[], options=dict(
                path=dict(type='path', required=True),
                mode=dict(type='raw', default='0755'),
                owner=dict(type='str'),
                group=dict(type='str'),
                setype=dict(type='str'),
            )),
            images=dict(type='list', elements='dict', default=[]),
            defaults=dict(type='dict', default={}, options=dict(
                owner=dict(type='str'),
                group=dict(type='str'),
                mode=dict(type='raw'),
            )),
        ),
        supports_check_mode=True,
    )
    PlanRun(module).run()


if __name__ == '__main__':
    main()
