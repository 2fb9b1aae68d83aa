#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: fs_headroom
short_description: Measure the free space for instance images and fail when there is not enough
version_added: 0.1.0
description:
  - Reports the size, free and used space of the file system that holds O(path), as Nova's C(get_fs_info) computes
    them from C(statvfs), with the mount point and device it is on and whether it accepts C(O_DIRECT).
  - O(path) need not exist yet; the nearest existing parent directory is measured, so the module can run before the
    directories it is about to hold are made.
  - With thresholds (O(min_free), O(min_free_percent)) or an amount about to be written (O(required)) it is a gate,
    and the task fails when the free space less O(required) falls below a threshold. The failure message names the path,
    the mount point, the free space, what was required and by how much it falls short.
  - Without thresholds and O(required) it only reports.
  - The module never changes anything. To tell whether the file system accepts C(O_DIRECT), it creates and at once
    removes a uniquely named probe file in the directory measured, as Nova does; nothing is left behind.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.info_module
  - hypervisor.images.attributes.actiongroup_images
options:
  path:
    description:
      - A directory or file on the file system to measure, for example the directory instance images are written to.
      - When it does not exist, its nearest existing parent directory is measured.
    type: path
    required: true
  min_free:
    description:
      - Space that must stay free after O(required) is written, as a number of bytes or a size string such as V(10G)
        or V(512M). Every unit is a power of 1024.
    type: str
  min_free_percent:
    description:
      - Share of the file system's size, in percent (V(0) to V(100)), that must stay free after O(required) is
        written.
      - When O(min_free) is also set, the larger of the two must stay free.
    type: float
  required:
    description:
      - Bytes about to be written, as a number of bytes or a size string such as V(20G), or a list of them that are
        added up (the sizes of the images a play is about to create, say).
      - The gate passes only when the free space less O(required) still meets O(min_free) and O(min_free_percent).
        Without thresholds, it passes when O(required) fits in the free space.
    type: list
    elements: str
    default: []
notes:
  - RV(free) is the space unprivileged users may still use (C(f_bavail)); the blocks the file system reserves for root
    are not counted as free, since the images are written by the hypervisor's unprivileged users.
  - RV(used) is the total number of blocks less the free blocks (C(f_bfree)), as Nova computes it, so
    RV(free) + RV(used) may be less than RV(total) by the reserved blocks.
seealso:
  - module: hypervisor.images.qemu_image
'''

EXAMPLES = r'''
- name: Report the instance storage headroom
  hypervisor.images.fs_headroom:
    path: /var/lib/nova/instances
  register: headroom

- name: Show it
  ansible.builtin.debug:
    msg: "{{ headroom.free | human_readable }} free of {{ headroom.total | human_readable }} on {{ headroom.mount_point }}"

- name: Fail unless 50 GiB and 10 % of the file system stay free after writing a 20 GiB image
  hypervisor.images.fs_headroom:
    path: /var/lib/nova/instances/_base
    min_free: 50G
    min_free_percent: 10
    required: 20G

- name: Fail unless the images about to be created fit with 10 GiB to spare
  hypervisor.images.fs_headroom:
    path: /var/lib/nova/instances
    min_free: 10G
    required: "{{ planned_images | map(attribute='size') | list }}"

- name: Choose the libvirt disk cache mode the way Nova does
  ansible.builtin.set_fact:
    disk_cache_mode: "{{ 'none' if headroom.supports_direct_io else 'writeback' }}"
'''

RETURN = r'''
path:
  description: Absolute path that was asked about.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base
measured_path:
  description: The path that was measured, O(path) itself or its nearest existing parent.
  returned: always
  type: str
  sample: /var/lib/nova/instances
total:
  description: Size of the file system in bytes (C(f_frsize * f_blocks)).
  returned: always
  type: int
  sample: 107374182400
free:
  description: Bytes unprivileged users may still use (C(f_frsize * f_bavail)).
  returned: always
  type: int
  sample: 64424509440
used:
  description: Bytes in use, the blocks less the free blocks (C(f_frsize * (f_blocks - f_bfree))), as Nova computes it.
  returned: always
  type: int
  sample: 37580963840
free_percent:
  description: RV(free) as a percentage of RV(total), rounded to two decimals.
  returned: always
  type: float
  sample: 60.0
mount_point:
  description: Mount point of the file system, from C(/proc/self/mountinfo). V(null) when the mount table cannot be
    read.
  returned: always
  type: str
  sample: /var/lib/nova
device:
  description: Source of the mount (a block device, or a name such as C(tmpfs) or C(overlay)). V(null) when the mount
    table cannot be read.
  returned: always
  type: str
  sample: /dev/mapper/vg-nova
fstype:
  description: Type of the file system. V(null) when the mount table cannot be read.
  returned: always
  type: str
  sample: xfs
supports_direct_io:
  description:
    - Whether files in the measured directory can be opened with C(O_DIRECT), probed as Nova probes it. Nova uses
      the C(none) disk cache mode where it can and C(writeback) where it cannot.
    - V(null) when the probe could not run (no permission to create a file there, a read-only file system); a
      warning says why.
  returned: always
  type: bool
  sample: true
required:
  description: O(required) in bytes (its sum, for a list).
  returned: always
  type: int
  sample: 21474836480
min_free:
  description: Bytes that must stay free after O(required) is written, the larger of O(min_free) and
    O(min_free_percent) of RV(total); V(0) without thresholds.
  returned: always
  type: int
  sample: 53687091200
free_after:
  description: RV(free) less RV(required); negative when O(required) does not fit.
  returned: always
  type: int
  sample: 42949672960
shortfall:
  description: Bytes missing to meet the thresholds, V(0) when the gate passes.
  returned: always
  type: int
  sample: 0
'''

import os
from fractions import Fraction

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._fs import (
    direct_io_supported,
    fs_usage,
    mount_of,
    nearest_existing,
)
from ansible_collections.hypervisor.images.plugins.module_utils._units import (
    SizeError,
    human_and_bytes,
    parse_size,
)


def percent_of(total, percent):
    """``percent`` % of ``total`` bytes, rounded up to a whole byte."""
    return int(-(-Fraction(total) * Fraction(str(percent)) // 100))


def shortfall_message(result, min_free, min_free_percent):
    needs = []
    if result['required']:
        needs.append('%s to write' % human_and_bytes(result['required']))
    if min_free is not None and min_free_percent is not None:
        rule = 'the larger of min_free %s and min_free_percent %g%% of %s' % (
            human_and_bytes(min_free), min_free_percent, human_and_bytes(result['total']))
    elif min_free_percent is not None:
        rule = 'min_free_percent %g%% of %s' % (min_free_percent, human_and_bytes(result['total']))
    else:
        rule = 'min_free'
    if result['min_free']:
        needs.append('%s to keep free, by %s' % (human_and_bytes(result['min_free']), rule))
    return (
        'Not enough free space for %s: the file system mounted on %s (%s) has %s free, and %s is required (%s); '
        'it falls short by %s. Free space there, move the instances to a larger file system, or lower the '
        'thresholds.'
        % (result['path'], result['mount_point'] or 'an unknown mount point', result['device'] or 'unknown device',
           human_and_bytes(result['free']), human_and_bytes(result['required'] + result['min_free']),
           ' plus '.join(needs), human_and_bytes(result['shortfall'])))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            min_free=dict(type='str'),
            min_free_percent=dict(type='float'),
            required=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = os.path.abspath(params['path'])
    try:
        min_free = parse_size(params['min_free'], 'min_free') if params['min_free'] is not None else None
        required = sum(parse_size(size, 'required') for size in params['required'])
    except SizeError as exc:
        module.fail_json(msg=str(exc), path=path)
    min_free_percent = params['min_free_percent']
    if min_free_percent is not None and not 0 <= min_free_percent <= 100:
        module.fail_json(msg='min_free_percent: %s is not a percentage from 0 to 100.' % min_free_percent, path=path)

    measured = nearest_existing(path)
    try:
        usage = fs_usage(measured)
    except OSError as exc:
        module.fail_json(msg='Cannot measure the file system of %s at %s: %s.' % (path, measured, exc.strerror),
                         path=path, measured_path=measured)

    result = dict(changed=False, path=path, measured_path=measured, required=required)
    result.update(usage)
    result['free_percent'] = round(100.0 * usage['free'] / usage['total'], 2) if usage['total'] else 0.0
    result.update(mount_of(measured))

    probe_dir = measured if os.path.isdir(measured) else os.path.dirname(measured)
    try:
        result['supports_direct_io'] = direct_io_supported(probe_dir)
    except OSError as exc:
        result['supports_direct_io'] = None
        module.warn('Cannot tell whether %s accepts O_DIRECT: creating a probe file there failed: %s.'
                    % (probe_dir, exc.strerror))

    keep_free = max(min_free or 0, percent_of(usage['total'], min_free_percent or 0))
    result['min_free'] = keep_free
    result['free_after'] = usage['free'] - required
    result['shortfall'] = max(0, required + keep_free - usage['free'])
    if result['shortfall']:
        module.fail_json(msg=shortfall_message(result, min_free, min_free_percent), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
