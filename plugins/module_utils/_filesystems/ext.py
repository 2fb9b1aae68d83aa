# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ext2, ext3, ext4 and ext4dev (e2fsprogs): mke2fs, tune2fs, dumpe2fs and resize2fs.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

mke2fs discards (punches holes into) an image file by default, which would
undo its preallocation; ``-E nodiscard`` keeps it, and an ``-E`` in opts
replaces it, as mke2fs keeps the last one. The size comes from ``dumpe2fs
-h``, read through the device the file system is mounted from when it is
mounted. resize2fs grows it unmounted or mounted (online); the growth it
will make is predicted from the superblock, so a second run reports no
change. ``-F`` lets mke2fs write over another file system (force only), and
below 104 KiB it fails after it has started writing: that is refused first.
"""

from __future__ import annotations

import os
import time

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import (
    EXT_UUID_KEYWORDS,
    FileSystem,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError


def ext_info_argv(dumpe2fs, dev):
    return [dumpe2fs, '-h', '--', dev]


def resize_ext_argv(resize2fs, dev):
    return [resize2fs, '--', dev]


def parse_dumpe2fs(text):
    """``Key: value`` lines of ``dumpe2fs -h`` as a dict of stripped strings."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(':')
        if sep and key and not key.startswith(' '):
            fields[key.strip()] = value.strip()
    return fields


def _has_superblock_backup(group, sparse_super):
    if group in (0, 1) or not sparse_super:
        return True
    for base in (3, 5, 7):
        power = base
        while power < group:
            power *= base
        if power == group:
            return True
    return False


def _ctime(text):
    if not text or text == 'n/a':
        return None
    try:
        return time.mktime(time.strptime(text, '%a %b %d %H:%M:%S %Y'))
    except (ValueError, OverflowError):
        return None


class ExtGeometry:
    """The fields of an ext2/3/4 superblock that decide whether resize2fs can grow it."""

    def __init__(self, fields):
        try:
            self.block_size = int(fields['Block size'])
            self.block_count = int(fields['Block count'])
            self.first_block = int(fields.get('First block', '0'))
            self.blocks_per_group = int(fields['Blocks per group'])
            self.inode_blocks_per_group = int(fields['Inode blocks per group'])
        except (KeyError, ValueError) as exc:
            raise FsError('dumpe2fs did not report the ext superblock field %s' % exc)
        self.features = set(fields.get('Filesystem features', '').split())
        self.reserved_gdt = int(fields.get('Reserved GDT blocks', '0') or 0)
        self.desc_size = int(fields.get('Group descriptor size', '32') or 32)
        cluster = fields.get('Cluster size')
        self.cluster_blocks = max(1, int(cluster) // self.block_size) if cluster else 1
        self.state = fields.get('Filesystem state', '')
        self.last_mount = fields.get('Last mount time', 'n/a')
        self.last_checked = fields.get('Last checked', 'n/a')

    @property
    def size(self):
        return self.block_count * self.block_size

    def grown_block_count(self, device_size, page_size=4096):
        """The block count resize2fs gives the file system on a device of ``device_size`` bytes.

        resize2fs takes the device size in blocks, rounded down to whole
        pages (and clusters), and leaves out a last block group too small
        for its own bookkeeping (inode table, bitmaps, superblock backup)
        plus 50 blocks. Layouts where that bookkeeping is placed otherwise
        (meta_bg, sparse_super2) use the plain rounded size, which may
        overestimate by that last group.
        """
        blocks = device_size // self.block_size
        if page_size > self.block_size:
            blocks -= blocks % (page_size // self.block_size)
        if self.cluster_blocks > 1:
            blocks -= blocks % self.cluster_blocks
        if '64bit' not in self.features and blocks >= 2 ** 32:
            blocks = 2 ** 32 - 1
        if blocks <= self.block_count or self.features & {'meta_bg', 'sparse_super2'}:
            return blocks
        per_group = self.blocks_per_group
        groups = -(-(blocks - self.first_block) // per_group)
        remainder = (blocks - self.first_block) % per_group
        overhead = 2 + self.inode_blocks_per_group
        if _has_superblock_backup(groups - 1, 'sparse_super' in self.features):
            descs_per_block = self.block_size // self.desc_size
            overhead += 1 + -(-groups // descs_per_block) + self.reserved_gdt
        if remainder and groups > 1 and remainder < overhead + 50:
            blocks -= remainder
        return blocks

    def grown_size(self, device_size):
        return self.grown_block_count(device_size, page_size=os.sysconf('SC_PAGE_SIZE')) * self.block_size

    def needs_check(self):
        """Why resize2fs would ask for ``e2fsck -f`` first on the unmounted file system, or None."""
        if self.state != 'clean':
            return 'its state is "%s"' % self.state
        mounted, checked = _ctime(self.last_mount), _ctime(self.last_checked)
        if mounted is not None and (checked is None or mounted > checked):
            return 'it was mounted (%s) after its last check (%s)' % (self.last_mount, self.last_checked)
        return None


class Ext(FileSystem):
    """What ext2, ext3, ext4 and ext4dev share."""

    package = 'e2fsprogs'
    label_flags = ('-L',)
    label_max = 16
    uuid_flags = ('-U',)
    mkfs_uuid_keywords = EXT_UUID_KEYWORDS
    uuid_keywords = EXT_UUID_KEYWORDS
    retune_tool = 'tune2fs'
    # mke2fs asks before it writes over another file system unless given -F.
    force_flags = ('-F',)
    # mke2fs 1.47.0 (1 KiB blocks, the default for a device this small) fails below 104 KiB, having written part of
    # the file system by then ("Illegal inode number while writing reserved inodes").
    min_size = 104 * 1024
    grows = True
    grows_online = True

    def mkfs_file_args(self, regular_file):
        return ['-E', 'nodiscard'] if regular_file else []

    def read_geometry(self, tools, dev, mounts):
        # A mounted file system is read through the device it is mounted from.
        found = mounts()
        device = found[0][0] if found else dev
        result = tools.run(ext_info_argv(self.tool(tools, 'dumpe2fs'), device),
                           'dumpe2fs (reading the superblock of %s)' % device)
        return ExtGeometry(parse_dumpe2fs(result.stdout))

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        if not mount_point:
            problem = geometry.needs_check()
            if problem:
                raise TaskError('resize2fs grows an unmounted ext file system only after a full check, and the one on %s '
                                'needs one: %s. Run e2fsck -f %s first, then run this task again.'
                                % (dev, problem, dev), path=dev)
        return resize_ext_argv(self.tool(tools, 'resize2fs'), device)


class Ext2(Ext):
    name = 'ext2'
    mkfs_tool = 'mkfs.ext2'


class Ext3(Ext):
    name = 'ext3'
    mkfs_tool = 'mkfs.ext3'


class Ext4(Ext):
    name = 'ext4'
    mkfs_tool = 'mkfs.ext4'
    blkid_types = ('ext4', 'ext4dev')


class Ext4dev(Ext):
    """Made with mkfs.ext4; blkid reports it as ext4, which counts as the same."""

    name = 'ext4dev'
    mkfs_tool = 'mkfs.ext4'
    blkid_types = ('ext4dev', 'ext4')
