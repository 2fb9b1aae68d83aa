#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_audit
short_description: Audit every image under a directory tree in one call
version_added: 0.2.0
description:
  - Reads every regular file under O(path) and returns every image with its format, sizes, verdict and the reasons
    for it, and with O(check) the result of C(qemu-img check) - one module call per host instead of one per image.
  - Each file is read by the collection's pure-Python inspector first (a few KiB of headers), and its backing chain
    followed within O(backing_roots); qemu-img opens only images found safe, and only to check them, read-only and
    under resource limits.
  - An image is B(hostile) when the verdict refuses it - a backing file outside O(backing_roots) (such as a host file),
    a protocol or C(json:) name, an external data file, a header qemu would misread - and B(damaged) when
    C(qemu-img check) finds corruptions or cannot complete. An overlay on a base within O(backing_roots) is normal.
  - Files that are not images are listed apart in RV(not_images), without a warning - an empty file, the source
    records this collection keeps beside images, and files without an image signature whose first KiB are text (Nova's
    C(disk.info), C(console.log), C(libvirt.xml)). A raw disk with data is an image.
  - Temporary files and lock files that killed runs of this collection's modules left are listed in RV(leftovers),
    not as images; the next task writing that image removes them. So is a cache entry that a killed
    M(hypervisor.images.image_cache_prune) left under its hidden name C(.NAME.removing); the next prune of that cache
    puts it back under its name.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode does the same.
  diff_mode:
    support: none
options:
  path:
    description: The directory to audit, for example the instances directory.
    type: path
    required: true
  recurse:
    description: Audit the subdirectories too.
    type: bool
    default: true
  backing_roots:
    description:
      - Directories backing files may lie in; a backing file elsewhere makes the image that names it hostile.
      - Defaults to O(path).
    type: list
    elements: path
  check:
    description:
      - Run C(qemu-img check) (read-only) on every image that is not hostile, and report images with corruptions, or
        whose check cannot complete, as damaged. Leaked clusters are reported but do not make an image damaged.
    type: bool
    default: false
seealso:
  - module: hypervisor.images.qemu_image_info
  - module: hypervisor.images.image_cache_prune
'''

EXAMPLES = r'''
- name: Audit the instances directory, checking every image
  hypervisor.images.image_audit:
    path: /var/lib/nova/instances
    check: true
  register: audit

- name: Fail when an image is hostile or damaged
  ansible.builtin.assert:
    that:
      - audit.hostile | length == 0
      - audit.damaged | length == 0
    fail_msg: "{{ audit.hostile + audit.damaged }}"
'''

RETURN = r'''
images:
  description: Every image, with C(path), C(format), C(virtual_size), C(actual_size), C(backing_file), C(safe),
    C(verdict) (V(clean), V(hostile) or V(damaged)), C(reasons) (each with C(code), C(message) and the C(path) of the
    image of the chain it is about) and with O(check) C(check) (what qemu-img check found, or its C(error)).
  returned: success
  type: list
  elements: dict
hostile:
  description: The hostile images, each with C(path) and C(reasons).
  returned: success
  type: list
  elements: dict
  sample: [{path: /var/lib/nova/instances/x/disk, reasons: [{code: backing_outside, message: its backing file ...}]}]
damaged:
  description: The damaged images, each with C(path) and C(check).
  returned: success
  type: list
  elements: dict
not_images:
  description: Paths of the files that are not images.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/nova/instances/0b7e/console.log, /var/lib/nova/instances/0b7e/disk.info]
leftovers:
  description: Temporary files, free lock files and cache entries being removed that killed runs left, each with
    C(path), C(kind) (V(temporary), V(lock) or V(removal)), C(of) (the image it belongs to) and C(size).
  returned: success
  type: list
  elements: dict
unreadable:
  description: Files that could not be read, each with C(path) and C(reason); run the task with become to read them.
  returned: success
  type: list
  elements: dict
summary:
  description: How many files fell in each class.
  returned: success
  type: dict
  sample: {images: 12, clean: 11, hostile: 1, damaged: 0, not_images: 6, leftovers: 0, unreadable: 0}
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._audit import Audit
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import QemuImg
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            recurse=dict(type='bool', default=True),
            backing_roots=dict(type='list', elements='path'),
            check=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    path = os.path.abspath(module.params['path'])
    if not os.path.isdir(path):
        module.fail_json(msg='%s is %s, not a directory to audit; give the directory that holds the images.'
                         % (path, 'missing' if not os.path.lexists(path) else 'not a directory'))
    roots = [os.path.abspath(root) for root in module.params['backing_roots'] or [path]]
    try:
        audit = Audit(path, roots, qemu=QemuImg() if module.params['check'] else None,
                      check=module.params['check']).walk(module.params['recurse'])
    except TaskError as exc:
        module.fail_json(**exc.to_result())
    summary = audit.summary()
    module.exit_json(changed=False, path=path, images=audit.images, hostile=audit.hostile, damaged=audit.damaged,
                     not_images=audit.not_images, leftovers=audit.leftovers, unreadable=audit.unreadable,
                     summary=summary,
                     msg='%(images)d images: %(clean)d clean, %(hostile)d hostile, %(damaged)d damaged; '
                         '%(not_images)d other files, %(leftovers)d leftovers, %(unreadable)d unreadable' % summary)


if __name__ == '__main__':
    main()
