# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ocfs2 (ocfs2-tools): mkfs.ocfs2 and tunefs.ocfs2.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

mkfs.ocfs2 runs with ``-F`` and ``-x``, as community.general.filesystem runs
it: ``-F`` because the module itself decides whether what is on the device
may be replaced (and erases what mkfs left of it afterwards), ``-x`` so that mkfs.ocfs2 does not ask
a cluster stack (o2cb) that the host may not run ("Unable to access cluster
service"). The file system is still made for a cluster unless opts say
``-M local``. tunefs.ocfs2 asks before it changes a UUID (``--yes``); it
needs the cluster stack to change a cluster file system. It does not grow
here.
"""

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.base import FileSystem
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import opts_value


class Ocfs2(FileSystem):
    name = 'ocfs2'
    mkfs_tool = 'mkfs.ocfs2'
    package = 'ocfs2-tools'
    label_flags = ('-L', '--label')
    label_max = 63
    uuid_flags = ('-U',)
    mkfs_args = ('-q', '-F', '-x')   # -F is its force flag, always given (see above)

    def smallest(self, opts):
        # ocfs2-tools 1.8.7, measured: 6684 KiB local (-M local), 10784 KiB for a cluster. mkfs.ocfs2 writes before
        # it finds a device too small.
        local = opts_value(opts, ('-M', '--mount')) == 'local'
        return (6684 if local else 10784) * 1024

    def label_argv(self, tools, dev, label):
        return [self.tool(tools, 'tunefs.ocfs2'), '--yes', '-L', label, '--', dev]

    def uuid_argv(self, tools, dev, uuid):
        return [self.tool(tools, 'tunefs.ocfs2'), '--yes', '--uuid-reset=%s' % uuid, '--', dev]
