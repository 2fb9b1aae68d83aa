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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.cow_image import CowImage, module_args


def main():
    module = AnsibleModule(**module_args())
    CowImage(module).run()


if __name__ == '__main__':
    main()
