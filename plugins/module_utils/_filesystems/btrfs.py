# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""btrfs (btrfs-progs): mkfs.btrfs, btrfs and btrfstune.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

The label is changed with ``btrfs filesystem label``, the UUID with
``btrfstune -U``, which rewrites every metadata block (``-f`` skips its
question). The size of this device in the file system comes from the
superblock, or from ``btrfs filesystem show`` when it is mounted. ``btrfs
filesystem resize DEVID:max`` grows it only while mounted. It needs 109 MiB
(16 MiB with ``--mixed``) and ``-f`` to write over another file system.
"""

from __future__ import annotations

import re
import struct

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError

BTRFS_SUPER_OFFSET = 65536
BTRFS_MAGIC = b'_BHRfS_M'


def btrfs_show_argv(btrfs, mount_point):
    return [btrfs, 'filesystem', 'show', '--raw', mount_point]


def btrfs_grow_argv(btrfs, devid, mount_point):
    return [btrfs, 'filesystem', 'resize', '%s:max' % devid, mount_point]


class BtrfsGeometry:
    """This device in a btrfs file system: its devid, the bytes of it the file system uses, the sector size."""

    def __init__(self, devid, size, sector_size):
        self.devid = devid
        self.size = size
        self.sector_size = sector_size

    def grown_size(self, device_size):
        return device_size - device_size % self.sector_size


def read_btrfs_device(path):
    """The BtrfsGeometry the btrfs superblock of ``path`` gives, or None when there is none."""
    with open(path, 'rb') as handle:
        handle.seek(BTRFS_SUPER_OFFSET)
        head = handle.read(0xc9 + 16)
    if len(head) < 0xc9 + 16 or head[0x40:0x48] != BTRFS_MAGIC:
        return None
    sector_size = struct.unpack_from('<I', head, 0x90)[0]
    devid, total = struct.unpack_from('<QQ', head, 0xc9)
    return BtrfsGeometry(devid, total, sector_size)


_BTRFS_DEVID = re.compile(r'^\s*devid\s+(\d+)\s+size\s+(\d+)\s+used\s+\d+\s+path\s+(.+?)\s*$', re.MULTILINE)


def parse_btrfs_show(text):
    """``btrfs filesystem show --raw`` output: a list of (devid, size, path)."""
    return [(int(devid), int(size), path) for devid, size, path in _BTRFS_DEVID.findall(text)]


class Btrfs(FileSystem):
    name = 'btrfs'
    mkfs_tool = 'mkfs.btrfs'
    package = 'btrfs-progs'
    label_flags = ('-L', '--label')
    label_max = 255
    uuid_flags = ('-U', '--uuid')
    grows = True
    grows_online = True
    grows_mounted_only = 'btrfs filesystem resize'
    # mkfs.btrfs refuses to write over another file system unless given -f.
    force_flags = ('-f',)
    # btrfs-progs 6.2: "minimum size for each btrfs device is 114294784" (109 MiB); 16 MiB with --mixed (measured).
    min_size = 109 * 1024 * 1024
    min_size_mixed = 16 * 1024 * 1024

    def smallest(self, opts):
        return self.min_size_mixed if any(arg in ('-M', '--mixed') for arg in opts) else self.min_size

    def label_argv(self, tools, dev, label):
        return [self.tool(tools, 'btrfs'), 'filesystem', 'label', '--', dev, label]

    def uuid_argv(self, tools, dev, uuid):
        return [self.tool(tools, 'btrfstune'), '-f', '-U', uuid, '--', dev]

    def read_geometry(self, tools, dev, mounts):
        found = mounts()
        geometry = read_btrfs_device(dev)
        if geometry is None:
            raise FsError('%s has a btrfs signature but no btrfs superblock this module can read.' % dev, path=dev)
        if found:
            mount_point = found[0][1]
            result = tools.run(btrfs_show_argv(self.tool(tools, 'btrfs'), mount_point),
                               'btrfs filesystem show (on %s)' % mount_point)
            for devid, size, dummy in parse_btrfs_show(result.stdout):
                if devid == geometry.devid:
                    geometry.size = size
        return geometry

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        return btrfs_grow_argv(self.tool(tools, 'btrfs'), geometry.devid, mount_point)
