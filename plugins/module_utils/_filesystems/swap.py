# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""swap areas (util-linux): mkswap and swaplabel.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

swaplabel takes UUIDs only, so a UUID keyword makes the area again with
mkswap, keeping its label. The size comes from the swap header, read in pure
Python; mkswap over the whole device grows the area, keeping its UUID and
label, in whole pages of this host's page size.
"""

from __future__ import annotations

import os
import struct

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import (
    EXT_UUID_KEYWORDS,
    FileSystem,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

SWAP_MAGIC = b'SWAPSPACE2'


class SwapHeader:
    """The header of a Linux swap area (version 1), read in pure Python."""

    def __init__(self, page_size, last_page, version):
        self.page_size = page_size
        self.last_page = last_page
        self.version = version

    @property
    def size(self):
        """Bytes the swap area covers, its header page included."""
        return (self.last_page + 1) * self.page_size

    def grown_size(self, device_size):
        return device_size - device_size % self.page_size


def read_swap_header(path):
    """The swap header of ``path``, or None when there is no version 1 swap area at its start."""
    with open(path, 'rb') as handle:
        head = handle.read(65536)
    for page_size in (4096, 8192, 16384, 65536):
        if head[page_size - len(SWAP_MAGIC):page_size] == SWAP_MAGIC:
            for order in ('<', '>'):
                version, last_page = struct.unpack(order + 'II', head[1024:1032])
                if version == 1:
                    return SwapHeader(page_size, last_page, version)
            return None
    return None


class Swap(FileSystem):
    name = 'swap'
    mkfs_tool = 'mkswap'
    package = 'util-linux'
    what = 'area'
    noun = 'a swap area'
    label_flags = ('-L', '--label')
    label_max = 15
    uuid_flags = ('-U', '--uuid')
    mkfs_uuid_keywords = EXT_UUID_KEYWORDS
    uuid_keywords = EXT_UUID_KEYWORDS
    retune_tool = 'swaplabel'
    # mkswap leaves the first sectors of a whole disk with a partition table alone unless given -f.
    force_flags = ('-f',)
    grows = True

    def smallest(self, opts):
        # mkswap: "swap area needs to be at least 40 KiB": ten pages of this host's page size.
        return 10 * os.sysconf('SC_PAGE_SIZE')

    def relabel_argvs(self, tools, dev, label=None, uuid=None, probe=None):
        if uuid is not None and uuid in self.keywords:
            # swaplabel takes a UUID only; mkswap takes the keywords and keeps nothing else worth keeping.
            keep = label if label is not None else (probe.label if probe is not None else None)
            return [self.mkfs_argv(tools, dev, label=keep, uuid=uuid)]
        return super(Swap, self).relabel_argvs(tools, dev, label=label, uuid=uuid, probe=probe)

    def read_geometry(self, tools, dev, mounts):
        return read_swap_header(dev)

    def grown_size(self, dev, geometry, device_size):
        page_size = os.sysconf('SC_PAGE_SIZE')
        if geometry.page_size != page_size:
            raise TaskError('The swap area on %s was made with %d-byte pages and this host uses %d-byte pages; mkswap '
                            'here would change its page size. Grow it on a host with %d-byte pages, or erase it and '
                            'make it again.' % (dev, geometry.page_size, page_size, geometry.page_size), path=dev)
        return geometry.grown_size(device_size)

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        # mkswap again over the whole device, with the same UUID and label.
        return self.mkfs_argv(tools, dev, label=probe.label, uuid=probe.uuid)
