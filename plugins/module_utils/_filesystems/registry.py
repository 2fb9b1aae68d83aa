# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every file system type mkfs offers, by its fstype name, and what blkid's findings are called.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

The types and their order are those of community.general.filesystem (less
bcachefs and ufs). A new type is one more class in this list.

The package ``_filesystems`` (its ``__init__.py`` stays empty, as ansible-test
sanity on ansible-core 2.16 requires): ``base`` holds what every type shares
(:class:`base.FileSystem`); ``ext``, ``xfs``, ``btrfs``, ``vfat``, ``swap``,
``f2fs``, ``reiserfs``, ``ocfs2``, ``gfs2`` and ``lvm`` one class each, with
everything that is particular to the type: its tools and their package, its
mkfs argv, its label and UUID rules and the argv that change them, how its size
is read (its geometry), how it grows and whether it grows mounted. Beside them:
``probe`` (blkid and wipefs: what is on a device), ``users`` (mounts, swaps,
holders, loop devices, qemu locks: who uses a device), ``tools`` (finding and
running the tools) and ``opts`` (the opts parameter).

To add a type, add a module with one :class:`base.FileSystem` subclass and
name it in ``TYPES``.
"""

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.btrfs import Btrfs
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.ext import Ext2, Ext3, Ext4, Ext4dev
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.f2fs import F2fs
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.gfs2 import Gfs2
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.lvm import Lvm
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.ocfs2 import Ocfs2
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.reiserfs import Reiserfs
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.swap import Swap
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.vfat import Vfat
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.xfs import Xfs

TYPES = dict((fs.name, fs) for fs in (
    Ext2(), Ext3(), Ext4(), Ext4dev(), Xfs(), Btrfs(), Vfat(), Swap(), F2fs(), Reiserfs(), Ocfs2(), Gfs2(), Lvm(),
))
FSTYPES = tuple(TYPES)


def growing_types():
    """The names of the types resizefs grows, as a phrase: "ext2, ext3, ... and lvm"."""
    names = [name for name, fs in TYPES.items() if fs.grows]
    return '%s and %s' % (', '.join(names[:-1]), names[-1])


def by_blkid_type(blkid_type):
    """The type whose first blkid TYPE is ``blkid_type``, or None."""
    for fs in TYPES.values():
        if fs.blkid_types[0] == blkid_type:
            return fs
    return None


def fstype_of(blkid_type, wanted=None):
    """The fstype name of what blkid reports as ``blkid_type`` (``wanted``'s when it counts as that), else blkid's."""
    if wanted is not None and blkid_type in wanted.blkid_types:
        return wanted.name
    fs = by_blkid_type(blkid_type)
    return fs.name if fs is not None else blkid_type


def describe(probe):
    """What blkid found, in words: "an ext4 file system labelled 'x' and a dos partition table"."""
    if probe.ambivalent:
        return 'several signatures (blkid cannot tell which one is in use)'
    parts = []
    fs = by_blkid_type(probe.type) if probe.type else None
    if fs is not None and fs.noun:
        parts.append(fs.noun)
    elif probe.type and probe.usage == 'filesystem':
        parts.append('%s %s file system' % ('an' if probe.type[0] in 'aeiox' else 'a', probe.type))
    elif probe.type:
        parts.append('a %s signature (usage: %s)' % (probe.type, probe.usage or 'unknown'))
    if parts and probe.label:
        parts[0] += ' labelled %r' % probe.label
    if probe.pttype:
        parts.append('a %s partition table' % probe.pttype)
    return ' and '.join(parts) or 'nothing'
