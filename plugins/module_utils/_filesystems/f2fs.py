# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""f2fs (f2fs-tools): mkfs.f2fs, f2fslabel and resize.f2fs.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

No f2fs tool changes the UUID of an existing file system. The size comes from
the superblock, read in pure Python; resize.f2fs grows it only while
unmounted. mkfs.f2fs needs 52 MiB and writes before it finds a device too
small, so that is refused first; ``-f`` lets it write over another file
system.
"""

from __future__ import annotations

import struct

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem

F2FS_MAGIC = 0xF2F52010
F2FS_SUPER_OFFSET = 1024


def f2fs_grow_argv(resize_f2fs, dev):
    return [resize_f2fs, '--', dev]


class F2fsGeometry:
    """The block count and block size of an f2fs superblock."""

    def __init__(self, block_count, log_block_size):
        self.block_count = block_count
        self.block_size = 1 << log_block_size

    @property
    def size(self):
        return self.block_count * self.block_size

    def grown_size(self, device_size):
        return device_size - device_size % self.block_size


def read_f2fs_superblock(path):
    """The F2fsGeometry of the f2fs file system on ``path``, or None when there is none."""
    with open(path, 'rb') as handle:
        handle.seek(F2FS_SUPER_OFFSET)
        head = handle.read(44)
    if len(head) < 44 or struct.unpack_from('<I', head, 0)[0] != F2FS_MAGIC:
        return None
    log_block_size = struct.unpack_from('<I', head, 16)[0]
    block_count = struct.unpack_from('<Q', head, 36)[0]
    return F2fsGeometry(block_count, log_block_size)


class F2fs(FileSystem):
    name = 'f2fs'
    mkfs_tool = 'mkfs.f2fs'
    package = 'f2fs-tools'
    label_flags = ('-l',)
    label_max = 512
    uuid_flags = ('-U',)
    grows = True
    grows_unmounted_only = 'resize.f2fs'
    # mkfs.f2fs refuses to write over another file system unless given -f.
    force_flags = ('-f',)
    # f2fs-tools 1.15.0 fails below 52 MiB ("Device size is not sufficient for F2FS volume"), having written to the
    # device by then (measured: an ext4 superblock there was gone).
    min_size = 52 * 1024 * 1024

    def label_argv(self, tools, dev, label):
        return [self.tool(tools, 'f2fslabel'), '--', dev, label]

    def read_geometry(self, tools, dev, mounts):
        return read_f2fs_superblock(dev)

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        return f2fs_grow_argv(self.tool(tools, 'resize.f2fs'), device)
