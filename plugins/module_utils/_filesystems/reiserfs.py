# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""reiserfs (reiserfsprogs): mkfs.reiserfs and reiserfstune.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

``-q`` keeps mkfs.reiserfs from asking for confirmation. It does not grow here.
"""

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem


class Reiserfs(FileSystem):
    name = 'reiserfs'
    mkfs_tool = 'mkfs.reiserfs'
    package = 'reiserfsprogs'
    label_flags = ('-l', '--label')
    label_max = 16
    uuid_flags = ('-u', '--uuid')
    uuid_keywords = ('random', 'time')
    mkfs_args = ('-q',)
    retune_tool = 'reiserfstune'
    retune_flags = ('-l', '-u')
    force_flags = ('-f',)
    # reiserfsprogs 3.6.27 with its default journal (8193 blocks of 4 KiB): measured.
    min_size = 32848 * 1024
