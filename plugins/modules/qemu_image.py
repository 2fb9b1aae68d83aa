#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: qemu_image
short_description: Create, grow and remove disk images with qemu-img
version_added: 0.1.0
description:
  - Makes sure a disk image file exists with a given format and virtual size, or does not exist.
  - A missing image is created with C(qemu-img create) under a temporary name in the same directory, synced and
    renamed into place, so it appears complete or not at all.
  - An existing image is grown with C(qemu-img resize) when a larger O(size) is asked for. Shrinking loses the data
    past the new end and needs O(allow_shrink=true).
  - The decision reads only image metadata (C(qemu-img info --output=json) with an explicit format), never image data,
    so a re-run that has nothing to do is quick whatever the image size.
  - The module never converts an image to another format; use M(hypervisor.images.image_convert) for that.
  - Tasks that write the same O(path) at once wait for each other on a lock file beside it.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - hypervisor.images.qemu_img.format
  - ansible.builtin.files
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the image's state, format and virtual size before and after.
options:
  path:
    description:
      - Path of the image file on the managed host.
      - A directory, a block device or another special file is refused.
    type: path
    required: true
  format:
    description:
      - Format of the image.
      - An existing image in another format makes the task fail; the module does not convert.
    type: str
    default: qcow2
  size:
    description:
      - Virtual size of the image, as a number of bytes or a size string such as V(10G), V(512M) or V(1.5T).
        Every unit is a power of 1024 (V(1G), V(1GB) and V(1GiB) are all 1073741824 bytes).
      - The size is rounded up to a multiple of 512 bytes, as C(qemu-img create) does.
      - Required to create a missing image. When omitted for an existing image, its size is left as it is.
      - A larger size than the image has grows it; a smaller one needs O(allow_shrink=true).
    type: str
  state:
    description:
      - V(present) creates the image or grows it to O(size).
      - V(absent) removes the file. Nothing happens when it does not exist.
    type: str
    choices: [present, absent]
    default: present
  preallocation:
    description:
      - Preallocation mode used when the image is created or grown (C(-o preallocation=...) for
        C(qemu-img create), C(--preallocation) for C(qemu-img resize)).
      - V(metadata) applies to qcow2 creation only.
    type: str
    choices: ['off', metadata, falloc, full]
  options:
    description:
      - Format options passed to C(qemu-img create -o), for example C(cluster_size), C(compat) or C(lazy_refcounts)
        for qcow2. Booleans are written as C(on) and C(off); commas inside values are escaped.
      - Options apply when the image is created. For an existing image, options that C(qemu-img info) reports
        (such as C(cluster_size) or C(compat)) are compared and a difference is reported as a warning; the image is not
        changed.
      - C(size), C(backing_file) and C(backing_fmt) are set by other means and are refused here; use O(size), or
        M(hypervisor.images.cow_image) for overlays.
    type: dict
    default: {}
  allow_shrink:
    description:
      - Allow shrinking an existing image to a smaller O(size) (C(qemu-img resize --shrink)).
      - Data past the new end of the image is lost. Shrink the file systems and partitions inside first.
    type: bool
    default: false
  repair:
    description:
      - Check an existing image's metadata (C(qemu-img check)) on every run and repair what it finds.
      - V(leaks) frees leaked clusters (allocated but referenced by nothing), which is what an interrupted write
        leaves; this loses nothing.
      - V(all) also repairs corruptions. B(This can lose data:) qemu-img may drop references it cannot make sense of.
        Copy the image first.
      - The task reports a change only when something was repaired (RV(check) holds the counts before, RV(repaired)
        after). An image that another process holds open (a running virtual machine) is refused.
      - Without O(repair), the image is still checked after a change to it was interrupted (a killed run left its lock
        file or a temporary file beside it), and what the check finds is reported in RV(check) and as a warning.
      - Raw images have no metadata to check; O(repair) is refused for them.
    type: str
    choices: [leaks, all]
  allow_backing_file:
    description:
      - Resize, check or repair an existing image that has a backing file (an overlay).
      - Before qemu-img opens an existing image to change or check it, the image is inspected in pure Python, and so
        is every image of its backing chain. External data files (which a resize would extend or truncate, wherever
        they point), VMDK extent files, names that qemu would read as a protocol or as C(json:), unknown features and
        images that are two formats at once are always refused. An image with a backing file is refused unless this is
        set, since qemu-img opens the whole chain and a hostile header can name any file on the host.
      - Creating an image and leaving an existing one as it is never open a backing file.
    type: bool
    default: false
notes:
  - The image is created with the mode a new file gets from the umask unless O(mode) is set; O(owner), O(group), O(mode)
    and the SELinux options are applied before the image appears under its final name.
  - Resizing an image that a running virtual machine uses corrupts it; qemu-img refuses when the image is locked.
seealso:
  - module: hypervisor.images.qemu_image_info
  - module: hypervisor.images.image_convert
  - module: hypervisor.images.cow_image
'''

EXAMPLES = r'''
- name: Create a 20 GiB qcow2 disk
  hypervisor.images.qemu_image:
    path: /var/lib/nova/instances/disk.qcow2
    size: 20G
    owner: libvirt-qemu
    group: kvm
    mode: '0640'

- name: Create a fully allocated raw disk
  hypervisor.images.qemu_image:
    path: /var/lib/libvirt/images/db.raw
    format: raw
    size: 50G
    preallocation: full

- name: Create a qcow2 disk with 2 MiB clusters and lazy refcounts
  hypervisor.images.qemu_image:
    path: /srv/images/big.qcow2
    size: 1T
    options:
      cluster_size: 2M
      lazy_refcounts: true

- name: Grow an existing disk to 40 GiB (no change if it is already that size)
  hypervisor.images.qemu_image:
    path: /var/lib/nova/instances/disk.qcow2
    size: 40G

- name: Shrink a disk whose file systems were shrunk first
  hypervisor.images.qemu_image:
    path: /srv/images/scratch.raw
    format: raw
    size: 5G
    allow_shrink: true

- name: Remove a disk
  hypervisor.images.qemu_image:
    path: /var/lib/nova/instances/old.qcow2
    state: absent

- name: Free the clusters a crash leaked, keeping the disk's size
  hypervisor.images.qemu_image:
    path: /var/lib/nova/instances/0b7e/disk
    repair: leaks
'''

RETURN = r'''
path:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/disk.qcow2
format:
  description: Format of the image.
  returned: when O(state=present)
  type: str
  sample: qcow2
virtual_size:
  description: Virtual size of the image in bytes (predicted in check mode).
  returned: when O(state=present)
  type: int
  sample: 21474836480
actual_size:
  description: Bytes the image file occupies on disk. V(null) in check mode when the image would be created.
  returned: when O(state=present)
  type: int
  sample: 200704
cluster_size:
  description: Cluster size of the image, for formats that have one.
  returned: when O(state=present) and the format has clusters
  type: int
  sample: 65536
backing_file:
  description: Backing file recorded in the image, if any.
  returned: when O(state=present)
  type: str
  sample: null
backing_format:
  description: Format of the backing file recorded in the image, if any.
  returned: when O(state=present)
  type: str
  sample: null
check:
  description:
    - What C(qemu-img check) found in an existing image, with O(repair) or after an interrupted change (before any
      repair). See M(hypervisor.images.qemu_image_info) for the keys.
  returned: when the image was checked
  type: dict
  sample: {corruptions: 0, leaks: 2, check_errors: 0, image_end_offset: 393216, fragmented_clusters: 0,
           allocated_clusters: 1, total_clusters: 256, corruptions_fixed: 0, leaks_fixed: 0}
repaired:
  description: What C(qemu-img check -r) fixed (C(leaks_fixed), C(corruptions_fixed)) and what is left.
  returned: when something was repaired
  type: dict
  sample: {corruptions: 0, leaks: 0, leaks_fixed: 2, corruptions_fixed: 0, check_errors: 0, image_end_offset: 262144,
           fragmented_clusters: 0, allocated_clusters: 1, total_clusters: 256}
cmd:
  description: The qemu-img command line that ran (or would run in check mode) to change the image.
  returned: when a command ran or would run
  type: list
  elements: str
  sample: [/usr/bin/qemu-img, create, -q, -f, qcow2, --, /var/lib/nova/instances/.disk.qcow2.abcd1234.part, '21474836480']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.qemu_image import QemuImage, module_args


def main():
    module = AnsibleModule(**module_args())
    QemuImage(module).run()


if __name__ == '__main__':
    main()
