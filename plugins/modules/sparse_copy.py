#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: sparse_copy
short_description: Copy a disk image file, keeping its holes, with a reflink where the file system allows
version_added: 0.1.0
description:
  - Copies a file, typically a raw disk image, to O(dest) on the managed host without filling its holes, and as fast as
    C(cp) or faster.
  - Where the file system can clone files (XFS made with C(reflink=1), Btrfs), the copy is a reflink made with the
    C(FICLONE) ioctl; it takes the same short time whatever the file's size and shares the source's blocks until either
    file is written. See O(reflink).
  - Otherwise only the source's data extents (found with C(SEEK_DATA) and C(SEEK_HOLE)) are copied, with
    C(copy_file_range) in large chunks, so holes are never read or written. Where the kernel or the file systems refuse
    C(copy_file_range), the data extents are read and written instead, and blocks that read as all zeros are left as
    holes. The copy has the source's length; a hole at the end stays a hole.
  - The copy is written under a temporary name in the directory of O(dest), synced and renamed over O(dest), so it
    appears complete or not at all. On any failure, a full file system included, the temporary file is removed and an
    existing O(dest) is left as it was. Tasks that write the same O(dest) at once wait for each other on a lock file
    beside it.
  - The module records on O(dest) what it was copied from (an extended attribute holding the source's path, size,
    modification time and inode, or a hidden C(.NAME.source.json) file beside it where extended attributes are not
    supported). A re-run compares that record with the source and copies again only when the source changed or
    O(src) names another file, without reading any data.
  - An existing O(dest) without such a record, or one that was modified since it was written, is compared with the
    source once, reading only where either file holds data. When their contents are equal it is kept as it is and the
    record is added (RV(adopted=true), reported as not changed, since its content already is what was asked for); with
    O(reflink=always) it is replaced by a clone instead. When they differ the task fails, unless O(force=true).
  - O(dest) must be a regular file or not exist. A block device is refused, see the notes.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - ansible.builtin.files
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows whether O(dest) exists, its length and the source it was copied from, before and after.
options:
  src:
    description:
      - Path of the file to copy, on the managed host. It must be a regular file.
      - A missing O(src) fails the task and leaves O(dest) as it is.
    type: path
    required: true
  dest:
    description:
      - Path of the copy. Its directory must exist.
      - A symbolic link at O(dest) is replaced by the copy; its target is not written.
    type: path
    required: true
  reflink:
    description:
      - V(auto) clones the source where the file system can and copies otherwise.
      - V(always) clones or fails, for example on ext4 or when O(src) and O(dest) are on different file systems. Use it
        where a full copy would be a mistake (too slow, too large).
      - V(never) always copies the data, so that O(dest) shares no blocks with O(src). It reads and writes the data
        itself, since C(copy_file_range) shares blocks as a clone does within one XFS or Btrfs file system; that is
        slower than V(auto) where V(auto) would use C(copy_file_range).
      - A destination this module cloned is copied again when O(reflink=never) is asked for later, and one it copied is
        cloned again when O(reflink=always) is; V(auto) accepts either.
    type: str
    choices: [auto, always, never]
    default: auto
  force:
    description:
      - Copy even when O(dest) is up to date, and replace an O(dest) whose content differs from O(src) although this
        module did not make it from O(src).
      - Every run with O(force=true) copies and reports a change.
    type: bool
    default: false
notes:
  - A new copy gets the mode of O(src) unless O(mode) is set; it belongs to the user the task runs as unless O(owner)
    and O(group) are set. O(owner), O(group), O(mode) and the SELinux options are applied before the copy appears under
    its final name. On an O(dest) that is up to date they are applied to it in place.
  - Block devices as O(dest) (a raw image onto an LVM volume, say) are refused. A device cannot be replaced atomically,
    it cannot carry the record that makes re-runs cheap, and a partial write would leave it neither old nor new. Write
    to devices with C(qemu-img convert -n -O raw).
  - O(src) must not change while it is copied; a change during the copy fails the task and leaves O(dest) as it was.
  - Deciding that O(dest) is up to date reads only metadata, except for an O(dest) without a record, whose content is
    compared with the source once.
seealso:
  - module: hypervisor.images.qemu_image_info
  - module: hypervisor.images.image_convert
'''

EXAMPLES = r'''
- name: Copy a base image into an instance directory (a reflink on XFS and Btrfs)
  hypervisor.images.sparse_copy:
    src: /var/lib/nova/instances/_base/ubuntu-24.04
    dest: /var/lib/nova/instances/0b7e/disk
    owner: libvirt-qemu
    group: kvm
    mode: '0640'

- name: Clone a golden image, and fail rather than copy where the file system cannot clone
  hypervisor.images.sparse_copy:
    src: /srv/golden/debian-12.raw
    dest: /srv/vms/db1.raw
    reflink: always

- name: Make an independent copy that shares no blocks with the source
  hypervisor.images.sparse_copy:
    src: /srv/golden/debian-12.raw
    dest: /srv/backup/debian-12.raw
    reflink: never
  register: copied

- name: Show how the copy was made
  ansible.builtin.debug:
    msg: "{{ copied.method }}: {{ copied.bytes_copied | human_readable }} of data in {{ copied.duration }} s"
'''

RETURN = r'''
src:
  description: Absolute path of the source.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
dest:
  description: Absolute path of the copy.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk
method:
  description:
    - How the data was copied, V(reflink), V(copy_file_range) or V(readwrite).
    - V(null) when nothing was copied, and in check mode.
  returned: always
  type: str
  sample: copy_file_range
bytes_copied:
  description:
    - Bytes in the data extents of the source that the copy covered (for a reflink, the bytes now shared). Holes do not
      count.
    - 0 when nothing was copied; in check mode, what a copy would cover.
  returned: always
  type: int
  sample: 1073741824
apparent_size:
  description: Length of O(dest) in bytes after the task (predicted in check mode), holes included.
  returned: always
  type: int
  sample: 10737418240
allocated_before:
  description: Bytes O(dest) occupied on disk before the task; 0 when it did not exist.
  returned: always
  type: int
  sample: 0
allocated_after:
  description: Bytes O(dest) occupies on disk after the task. V(null) in check mode when a copy would be made.
  returned: always
  type: int
  sample: 1073745920
duration:
  description: Seconds the copy took, including the sync and the rename; 0 when nothing was copied.
  returned: always
  type: float
  sample: 0.93
adopted:
  description:
    - Whether an existing O(dest) without a record was found equal to O(src) and kept, with the record added (in check
      mode, would be).
  returned: always
  type: bool
  sample: false
reasons:
  description: Why the copy was made (or would be made in check mode); empty when O(dest) was up to date.
  returned: always
  type: list
  elements: str
  sample: ['the source changed (mtime_ns)']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.sparse_copy import SparseCopy, module_args


def main():
    module = AnsibleModule(**module_args())
    SparseCopy(module).run()


if __name__ == '__main__':
    main()
