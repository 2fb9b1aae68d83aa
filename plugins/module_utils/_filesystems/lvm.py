# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""LVM physical volumes (lvm2): pvcreate, pvchange, pvs and pvresize.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

pvcreate works on block devices only (attach an image file to a loop device
first). A physical volume has no label, and its UUID is an LVM identifier of
32 characters, not a UUID; an existing one only gets a random one
(``pvchange --uuid``). pvresize grows it, also while its logical volumes are
active.
"""

from __future__ import annotations

import json
import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError, last_line

_LVM_ID_RE = re.compile(r'^[A-Za-z0-9!#]{6}(-[A-Za-z0-9!#]{4}){5}-[A-Za-z0-9!#]{6}$')


def pvs_argv(pvs, dev):
    return [pvs, '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--', dev]


def pvresize_argv(pvresize, dev):
    return [pvresize, '--', dev]


class PvGeometry:
    """The size of a physical volume, of the device it is on, and its identifier, as pvs reports them."""

    def __init__(self, pv_size, dev_size, pv_uuid):
        self.size = pv_size
        self.dev_size = dev_size
        self.pv_uuid = pv_uuid

    def grown_size(self, device_size):
        return self.dev_size


def parse_pvs(text):
    """``pvs --reportformat json`` output for one device: a PvGeometry."""
    try:
        row = json.loads(text)['report'][0]['pv'][0]
        return PvGeometry(int(row['pv_size']), int(row['dev_size']), row['pv_uuid'])
    except (ValueError, KeyError, IndexError, TypeError):
        raise FsError('pvs did not report the physical volume: %s' % last_line(text))


class Lvm(FileSystem):
    name = 'lvm'
    mkfs_tool = 'pvcreate'
    package = 'lvm2'
    blkid_types = ('LVM2_member',)
    what = 'physical volume'
    noun = 'an LVM physical volume'
    uuid_flags = ('-u', '--uuid')
    uuid_keywords = ('random',)
    uuid_example = ('an LVM identifier of 32 characters in seven groups, such as '
                    'Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn')
    regular_file = False
    grows = True
    grows_online = True
    # pvcreate asks before it wipes another signature unless given -f.
    force_flags = ('-f',)
    # lvm.conf: devices/pv_min_size defaults to 2048 KiB ("device is too small (pv_min_size)").
    min_size = 2048 * 1024

    def parse_uuid(self, text):
        return text if _LVM_ID_RE.match(text) else None

    def mkfs_uuid_args(self, uuid):
        return [self.uuid_flags[0], uuid, '--norestorefile']

    def uuid_argv(self, tools, dev, uuid):
        if uuid == 'random':
            return [self.tool(tools, 'pvchange'), '--uuid', '--', dev]
        return super(Lvm, self).uuid_argv(tools, dev, uuid)

    def read_geometry(self, tools, dev, mounts):
        result = tools.run(pvs_argv(self.tool(tools, 'pvs'), dev), 'pvs (reading the physical volume %s)' % dev)
        return parse_pvs(result.stdout)

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        return pvresize_argv(self.tool(tools, 'pvresize'), device)
