# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""gfs2 (gfs2-utils): mkfs.gfs2 and tunegfs2.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

The label of gfs2 is its lock table, CLUSTER:NAME (``-t``), which a new one
needs unless opts ask for ``-p lock_nolock``. mkfs.gfs2 asks for
confirmation unless given ``-O``; neither it nor tunegfs2 takes ``--`` before
the device, which is an absolute path. It does not grow here.
"""

from __future__ import annotations

import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import opts_value

# CLUSTER:NAME; mkfs.gfs2 allows 32 and 30 characters.
_GFS2_TABLE_RE = re.compile(r'^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{1,30}$')


class Gfs2(FileSystem):
    name = 'gfs2'
    mkfs_tool = 'mkfs.gfs2'
    package = 'gfs2-utils'
    label_flags = ('-t',)
    uuid_flags = ('-U',)
    mkfs_args = ('-O',)
    dashdash = False
    retune_tool = 'tunegfs2'
    # gfs2-utils 3.5.0, measured ("gfs2 will not fit on this device"); -O is its force flag, always given.
    min_size = 16 * 1024 * 1024

    def label_problem(self, label):
        problem = super(Gfs2, self).label_problem(label)
        if problem is None and not _GFS2_TABLE_RE.match(label):
            return ('the label of gfs2 is its lock table, CLUSTER:NAME, such as hv:images (at most 32 and 30 '
                    'letters, digits, - or _)')
        return problem

    def create_problem(self, label, opts):
        if label is None and opts_value(opts, ('-p',)) != 'lock_nolock':
            return ('gfs2 needs its lock table as label, CLUSTER:NAME such as hv:images (the cluster name and a name '
                    'for the file system), or opts: -p lock_nolock for a file system that only one host mounts.')
        return None
