# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File systems on raw images and block devices, one module per type, for the mkfs module.

This is a private package of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

``base`` holds what every type shares (:class:`base.FileSystem`); ``ext``,
``xfs``, ``btrfs``, ``vfat``, ``swap``, ``f2fs``, ``reiserfs``, ``ocfs2``,
``gfs2`` and ``lvm`` one class each, with everything that is particular to
the type: its tools and their package, its mkfs argv, its label and UUID
rules and the argv that change them, how its size is read (its geometry),
how it grows and whether it grows mounted. ``registry`` lists the types.
Beside them: ``probe`` (blkid and wipefs: what is on a device), ``users``
(mounts, swaps, holders, loop devices, qemu locks: who uses a device),
``tools`` (finding and running the tools) and ``opts`` (the opts parameter).

To add a type, add a module with one :class:`base.FileSystem` subclass and
name it in ``registry.TYPES``.
"""
