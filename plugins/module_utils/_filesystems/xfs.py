# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""xfs (xfsprogs): mkfs.xfs, xfs_db, xfs_info and xfs_growfs.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

An existing XFS is relabelled with ``xfs_db -x -p xfs_admin`` as xfs_admin
does, without xfs_admin's shell wrapper, which breaks on paths with spaces.
xfs_db splits its commands at spaces, so such a label is only given by
mkfs.xfs, and its label command reads ``--`` as "no label", so that label is
refused. The size is read with ``xfs_db -r`` unmounted and with xfs_info on
the mount point when mounted (the device's superblock lags behind then).
xfs_growfs grows it only while mounted. It needs 300 MiB (xfsprogs 5.19 and
newer), and ``-f`` to write over another file system.
"""

from __future__ import annotations

import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import opts_values
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError, last_line

# XFS adds a last allocation group only when it gets at least this many blocks (XFS_MIN_AG_BLOCKS).
XFS_MIN_AG_BLOCKS = 64


def xfs_db_size_argv(xfs_db, dev):
    return [xfs_db, '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', dev]


def xfs_info_argv(xfs_info, mount_point):
    return [xfs_info, mount_point]


def xfs_grow_argv(xfs_growfs, mount_point):
    return [xfs_growfs, '-d', mount_point]


class XfsGeometry:
    """Data block count, block size and allocation group size of an XFS file system."""

    def __init__(self, blocks, block_size, ag_blocks):
        self.blocks = blocks
        self.block_size = block_size
        self.ag_blocks = ag_blocks

    @property
    def size(self):
        return self.blocks * self.block_size

    def grown_blocks(self, device_size):
        """The data block count xfs_growfs gives the file system on a device of ``device_size`` bytes.

        The kernel drops a last allocation group smaller than
        XFS_MIN_AG_BLOCKS, so a device a few blocks larger does not grow it.
        """
        blocks = device_size // self.block_size
        rest = blocks % self.ag_blocks
        if rest and rest < XFS_MIN_AG_BLOCKS:
            blocks -= rest
        return blocks

    def grown_size(self, device_size):
        return self.grown_blocks(device_size) * self.block_size


def parse_xfs_db(text):
    """``p dblocks blocksize agblocks`` output of xfs_db: an XfsGeometry."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            fields[key.strip()] = value.strip()
    try:
        return XfsGeometry(int(fields['dblocks']), int(fields['blocksize']), int(fields['agblocks']))
    except (KeyError, ValueError):
        raise FsError('xfs_db did not report the size of the XFS file system: %s' % last_line(text))


_XFS_INFO_DATA = re.compile(r'^data\s*=\s*bsize=(\d+)\s+blocks=(\d+)', re.MULTILINE)
_XFS_INFO_AG = re.compile(r'agsize=(\d+) blks')


def parse_xfs_info(text):
    """xfs_info output of a mounted file system: an XfsGeometry."""
    data = _XFS_INFO_DATA.search(text)
    ag = _XFS_INFO_AG.search(text)
    if not data or not ag:
        raise FsError('xfs_info did not report the size of the XFS file system: %s' % last_line(text))
    return XfsGeometry(int(data.group(2)), int(data.group(1)), int(ag.group(1)))


class Xfs(FileSystem):
    name = 'xfs'
    mkfs_tool = 'mkfs.xfs'
    package = 'xfsprogs'
    label_flags = ('-L',)
    label_max = 12
    uuid_flags = ('-m',)
    uuid_keywords = ('nil', 'generate')
    grows = True
    grows_online = True
    grows_mounted_only = 'xfs_growfs'
    # mkfs.xfs refuses to write over another file system unless given -f.
    force_flags = ('-f',)
    # xfsprogs 5.19 and newer: "Filesystem must be larger than 300MB." (6.1.0 makes one on 300 MiB exactly).
    min_size = 300 * 1024 * 1024

    def label_problem(self, label):
        if label == '--':
            return ('xfs_db, which relabels an existing xfs file system, reads the label -- as "remove the label"; '
                    'choose another label')
        return super(Xfs, self).label_problem(label)

    def relabel_problem(self, label):
        if any(char.isspace() or char in '"\'' for char in label):
            return 'xfs_db cannot set a label with spaces or quotes (%r) on an existing file system' % label
        return None

    def opts_uuid(self, opts):
        """The ``uuid=`` sub-option of the last ``-m`` (metadata options) that has one."""
        found = None
        for value in opts_values(opts, self.uuid_flags):
            subs = [part.split('=', 1)[1] for part in value.split(',') if part.startswith('uuid=')]
            if subs:
                found = subs[-1]
        return found

    def mkfs_uuid_args(self, uuid):
        return ['-m', 'uuid=%s' % uuid]

    def relabel_argvs(self, tools, dev, label=None, uuid=None, probe=None):
        if label is None and uuid is None:
            return []
        argv = [self.tool(tools, 'xfs_db'), '-x', '-p', 'xfs_admin']
        if label is not None:
            argv += ['-c', 'label %s' % label]
        if uuid is not None:
            argv += ['-c', 'uuid %s' % uuid]
        return [argv + ['--', dev]]

    def read_geometry(self, tools, dev, mounts):
        """The XFS geometry: from the mounted file system when it is mounted (the device may lag behind)."""
        found = mounts()
        if found:
            mount_point = found[0][1]
            result = tools.run(xfs_info_argv(self.tool(tools, 'xfs_info'), mount_point),
                               'xfs_info (reading %s)' % mount_point)
            return parse_xfs_info(result.stdout)
        result = tools.run(xfs_db_size_argv(self.tool(tools, 'xfs_db'), dev),
                           'xfs_db (reading the superblock of %s)' % dev)
        return parse_xfs_db(result.stdout)

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        return xfs_grow_argv(self.tool(tools, 'xfs_growfs'), mount_point)
