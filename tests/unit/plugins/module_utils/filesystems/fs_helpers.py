# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tests of the file system types share: a device path, tools found in /sbin, crafted superblocks."""

from __future__ import annotations

import shutil
import struct
import subprocess

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.btrfs import BTRFS_MAGIC, BTRFS_SUPER_OFFSET
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.f2fs import F2FS_MAGIC, F2FS_SUPER_OFFSET
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import Tools

DEV = '/srv/images/disk one.raw'
MiB = 1024 * 1024
UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'
LVM_ID = 'Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn'


def sbin(name, package):
    return '/sbin/' + name


def tools(runner=None):
    """Tools that find every tool in /sbin and run nothing (or ask ``runner``)."""
    return Tools(runner=runner, which=sbin)


def mkfs_argv(fstype, **kwargs):
    return TYPES[fstype].mkfs_argv(tools(), DEV, **kwargs)


def relabel_argvs(fstype, label=None, uuid=None, probe=None):
    return TYPES[fstype].relabel_argvs(tools(), DEV, label=label, uuid=uuid, probe=probe)


def installed(name):
    return shutil.which(name) or shutil.which(name, path='/usr/sbin:/sbin:/usr/bin')


def make_image(path, size, *argv):
    with open(path, 'wb') as handle:
        handle.truncate(size)
    subprocess.run(list(argv) + [path], check=True, capture_output=True)


def craft_f2fs(path, block_count, log_block_size=12, size=2 * MiB):
    with open(path, 'wb') as handle:
        handle.truncate(size)
        handle.seek(F2FS_SUPER_OFFSET)
        handle.write(struct.pack('<I', F2FS_MAGIC))
        handle.seek(F2FS_SUPER_OFFSET + 16)
        handle.write(struct.pack('<I', log_block_size))
        handle.seek(F2FS_SUPER_OFFSET + 36)
        handle.write(struct.pack('<Q', block_count))


def craft_btrfs(path, devid, total, sector_size=4096, size=2 * MiB):
    with open(path, 'wb') as handle:
        handle.truncate(size)
        handle.seek(BTRFS_SUPER_OFFSET + 0x40)
        handle.write(BTRFS_MAGIC)
        handle.seek(BTRFS_SUPER_OFFSET + 0x90)
        handle.write(struct.pack('<I', sector_size))
        handle.seek(BTRFS_SUPER_OFFSET + 0xc9)
        handle.write(struct.pack('<QQ', devid, total))
