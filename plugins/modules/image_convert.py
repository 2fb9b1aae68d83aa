#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_convert
short_description: Convert disk images between formats, atomically and only when needed
version_added: 0.1.0
description:
  - Writes O(dest) with C(qemu-img convert -f SRC_FORMAT -O DEST_FORMAT) from O(src), as Nova's C(convert_image) does
    for its base-image cache, and records on O(dest) what it was made from.
  - A re-run decides from that record and file metadata alone, without reading image data, so it takes the same short
    time for a 1 GiB and a 1 TiB image. A changed source or a changed setting means a new conversion.
  - An existing O(dest) without a record (made by someone else, or modified since it was written) is compared once with
    the source (C(qemu-img compare)). The same guest-visible data and format means it is adopted (the record is written,
    nothing else changes); different data makes the task fail unless O(force=true).
  - The source's format is never guessed by qemu-img. Without O(src_format) it is read from the header magic by the
    module itself and confirmed with a resource-limited C(qemu-img info).
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - hypervisor.images.qemu_img.src_format
  - ansible.builtin.files
  - hypervisor.images.convert
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - In check mode the source is inspected and measured, and an existing O(dest) without a record is compared with
        the source, exactly as for real; nothing is written but the file of the O_DIRECT probe of O(cache_mode=auto),
        which is removed at once.
  diff_mode:
    support: full
    details:
      - The diff shows O(dest)'s state, format, virtual size and source before and after.
options:
  src:
    description:
      - Path of the image to convert, a file or a block device.
      - A block device is identified by its device number and size only; writes to it are not noticed on later runs
        (use O(force) after changing its content).
    type: path
    required: true
  src_format:
    description:
      - Format of O(src). When omitted, it is read from the header magic (a file without known magic is raw).
      - When set, a source whose header declares another format is refused.
    type: str
seealso:
  - module: hypervisor.images.qemu_image_info
  - module: hypervisor.images.cow_image
'''

EXAMPLES = r'''
- name: Turn a downloaded qcow2 image into a raw base image, as Nova's cache does
  hypervisor.images.image_convert:
    src: /var/lib/nova/instances/_base/ubuntu-24.04.part.qcow2
    src_format: qcow2
    dest: /var/lib/nova/instances/_base/ubuntu-24.04
    dest_format: raw

- name: Make a compressed qcow2 for upload, fast on big hosts
  hypervisor.images.image_convert:
    src: /srv/vm/web1.raw
    dest: /srv/export/web1.qcow2
    dest_format: qcow2
    compress: true
    parallel: 16
    out_of_order: true
    options:
      cluster_size: 2M

- name: Flatten an overlay and its backing chain into one image
  hypervisor.images.image_convert:
    src: /var/lib/nova/instances/0b7e/disk
    dest: /srv/export/0b7e.qcow2
    dest_format: qcow2
    allow_backing_file: true
  register: flat

- name: Show what happened
  ansible.builtin.debug:
    msg: "{{ flat.reason | default('already up to date') }}, cache mode {{ flat.cache_mode | default('-') }}"
'''

RETURN = r'''
dest:
  description: Absolute path of the written image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base/ubuntu-24.04
src:
  description: Absolute path of the source.
  returned: always
  type: str
  sample: /srv/images/ubuntu-24.04.qcow2
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
  sample: the source changed (mtime_ns, size)
record:
  description: Where the source record was stored, V(xattr) or V(sidecar).
  returned: when a record was written
  type: str
  sample: xattr
adopted:
  description: O(dest) existed without a record, held the same data as the source, and was adopted by recording it.
  returned: when that happened
  type: bool
  sample: true
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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.image_convert import ImageConvert, module_args


def main():
    module = AnsibleModule(**module_args())
    ImageConvert(module).run()


if __name__ == '__main__':
    main()
