# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vfat (dosfstools): mkfs.vfat and fatlabel.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Its UUID is a volume ID of 8 hexadecimal digits, which blkid reports as
1A2B-3C4D and the tools take without the dash. It does not grow here:
fatresize (1.1.0) fails on image files and whole devices.
"""

from __future__ import annotations

import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem

# Characters mkfs.vfat and fatlabel refuse in a label.
VFAT_LABEL_FORBIDDEN = '*?.,;:/\\|+=<>[]"'
_VFAT_ID_RE = re.compile(r'^([0-9A-F]{4})-?([0-9A-F]{4})$')


class Vfat(FileSystem):
    name = 'vfat'
    mkfs_tool = 'mkfs.vfat'
    package = 'dosfstools'
    label_flags = ('-n', '--volume-name')
    label_max = 11
    uuid_flags = ('-i', '--volume-id')
    uuid_example = 'a volume ID of 8 hexadecimal digits, such as 1A2B-3C4D'
    grow_hint = ' vfat grows with fatresize, on a partition of a disk only.'
    # mkfs.vfat refuses a whole disk with a partition table unless given -I.
    force_flags = ('-I',)
    # dosfstools 4.2 with its default FAT size: "Too few blocks for viable filesystem" below 50 KiB.
    min_size = 50 * 1024

    def label_problem(self, label):
        problem = super(Vfat, self).label_problem(label)
        if problem is None:
            bad = sorted(set(char for char in label if char in VFAT_LABEL_FORBIDDEN))
            if bad:
                return 'vfat labels cannot contain %s' % ' '.join(bad)
        return problem

    def parse_uuid(self, text):
        match = _VFAT_ID_RE.match(text.upper())
        return '%s-%s' % match.groups() if match else None

    def mkfs_uuid_args(self, uuid):
        return [self.uuid_flags[0], uuid.replace('-', '')]

    def label_argv(self, tools, dev, label):
        return [self.tool(tools, 'fatlabel'), '--', dev, label]

    def uuid_argv(self, tools, dev, uuid):
        return [self.tool(tools, 'fatlabel'), '-i', '--', dev, uuid.replace('-', '')]
