# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who uses a device or an image file: mounts, swaps, holders, loop devices, qemu processes.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Everything is read from the kernel (mountinfo, /proc/swaps, sysfs, an
exclusive open, an OFD lock query); only the loop devices an image file is
attached to are asked of ``losetup``.
"""

from __future__ import annotations

import errno
import os
import stat

from ansible_collections.hypervisor.images.plugins.module_utils._fs import MOUNTINFO, parse_mountinfo, unescape_octal
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import qemu_lock_held

# losetup comes with util-linux; Debian and Ubuntu ship it in the package mount.
LOSETUP_PACKAGE = 'mount (Debian, Ubuntu) or util-linux (elsewhere)'
PROC = '/proc'
PROC_SWAPS = '/proc/swaps'
SYS_DEV_BLOCK = '/sys/dev/block'
QEMU_USER = 'open in a qemu process (a running virtual machine, qemu-nbd or qemu-img), which holds its image locks'


def processes_holding(keys, proc=PROC):
    """Which processes have files open: ``({(dev, ino): ['PID (COMMAND)', ...]}, unseen)``.

    Reads every /proc/PID/fd of the processes it may read (all of them as
    root); ``unseen`` counts the processes whose open files it could not read.
    This process is left out.
    """
    found = {}
    unseen = 0
    if not keys:
        return found, unseen
    own = str(os.getpid())
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit() and name != own]
    except OSError:
        return found, unseen
    for pid in pids:
        fd_dir = os.path.join(proc, pid, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except FileNotFoundError:
            continue  # ended meanwhile
        except OSError:
            unseen += 1
            continue
        for fd in fds:
            try:
                st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in keys:
                holder = '%s (%s)' % (pid, _command(proc, pid))
                if holder not in found.setdefault(key, []):
                    found[key].append(holder)
    for holders in found.values():
        holders.sort(key=lambda text: int(text.split()[0]))
    return found, unseen


def _command(proc, pid):
    try:
        with open(os.path.join(proc, pid, 'comm'), encoding='utf-8', errors='replace') as handle:
            return handle.read().strip() or '?'
    except OSError:
        return '?'


def loop_devices_argv(losetup, path):
    return [losetup, '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated', path]


def set_capacity_argv(losetup, loop):
    return [losetup, '--set-capacity', loop]


def active_swaps(swaps=PROC_SWAPS):
    """Paths of the active swap areas (files and devices)."""
    try:
        with open(swaps, encoding='utf-8', errors='surrogateescape') as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return []
    return [unescape_octal(line.split()[0]) for line in lines if line.split()]


def rdev_of(path):
    """The device number of the block device ``path``, or None when it is not one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_rdev if stat.S_ISBLK(st.st_mode) else None


def partitions_of(rdev, sys_dev_block=SYS_DEV_BLOCK):
    """Device numbers of the partitions of the block device ``rdev`` (from sysfs)."""
    base = os.path.join(sys_dev_block, '%d:%d' % (os.major(rdev), os.minor(rdev)))
    found = []
    try:
        names = os.listdir(base)
    except OSError:
        return found
    for name in sorted(names):
        if not os.path.exists(os.path.join(base, name, 'partition')):
            continue
        try:
            with open(os.path.join(base, name, 'dev'), encoding='ascii') as handle:
                major, minor = handle.read().strip().split(':')
        except (OSError, ValueError):
            continue
        found.append(os.makedev(int(major), int(minor)))
    return found


def holders_of(rdev, sys_dev_block=SYS_DEV_BLOCK):
    """Names of the devices (device mapper, md) built on the block device ``rdev``."""
    try:
        return sorted(os.listdir(os.path.join(sys_dev_block, '%d:%d' % (os.major(rdev), os.minor(rdev)), 'holders')))
    except OSError:
        return []


def mount_points_of(rdevs, mountinfo=MOUNTINFO):
    """Mount points of the file systems on any of the block devices ``rdevs``.

    A mount matches by its device number, or by its source when that is a
    block device (btrfs mounts carry an anonymous device number).
    """
    wanted = set(rdevs)
    try:
        with open(mountinfo, encoding='utf-8', errors='surrogateescape') as handle:
            entries = parse_mountinfo(handle.read())
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            major, minor = (int(part) for part in entry['dev'].split(':'))
            number = os.makedev(major, minor)
        except ValueError:
            number = None
        source = rdev_of(entry['device']) if entry['device'].startswith('/') else None
        if number in wanted or source in wanted:
            found.append(entry['mount_point'])
    return found


def exclusively_busy(path):
    """Whether the kernel refuses an exclusive open of the block device ``path`` (mounted, swap, held)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return True
        raise
    os.close(fd)
    return False


class Users:
    """Who uses block devices and image files; ``tools`` runs losetup (a :class:`.tools.Tools`)."""

    def __init__(self, tools, mountinfo=MOUNTINFO, swaps=PROC_SWAPS, sys_dev_block=SYS_DEV_BLOCK):
        self.tools = tools
        self.mountinfo = mountinfo
        self.swaps = swaps
        self.sys_dev_block = sys_dev_block

    def losetup(self):
        return self.tools.path('losetup', LOSETUP_PACKAGE)

    def loop_devices(self, path):
        """The loop devices the image file ``path`` is attached to."""
        result = self.tools.run(loop_devices_argv(self.losetup(), path), 'losetup (finding loop devices on %s)' % path)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def set_capacity_argv(self, loop):
        """The command that makes the loop device ``loop`` see the size its file has now."""
        return set_capacity_argv(self.losetup(), loop)

    def block_device_usage(self, path, online=False):
        """How the block device ``path`` is used: (mount points, other reasons it is in use).

        With ``online``, being held by device mapper or md (an LVM physical
        volume with active logical volumes) does not count as a reason.
        """
        rdev = os.stat(path).st_rdev
        rdevs = [rdev] + partitions_of(rdev, self.sys_dev_block)
        mounts = mount_points_of(rdevs, self.mountinfo)
        reasons = []
        for swap in active_swaps(self.swaps):
            if rdev_of(swap) in rdevs:
                reasons.append('an active swap area (%s)' % swap)
        holders = holders_of(rdev, self.sys_dev_block)
        if holders and not online:
            reasons.append('held by %s' % ', '.join(holders))
        if not mounts and not reasons and not holders and exclusively_busy(path):
            reasons.append('busy: the kernel refuses to open it exclusively')
        if qemu_lock_held(path):
            reasons.append(QEMU_USER)
        return mounts, reasons

    def file_usage(self, path, online=False):
        """How the image file ``path`` is used: ([(loop device, mount point)], reasons).

        Reasons are an active swap file or a qemu process; the loop devices
        the file is attached to are listed with their own mounts and reasons.
        """
        reasons = []
        st = os.stat(path)
        for swap in active_swaps(self.swaps):
            try:
                other = os.stat(swap)
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                reasons.append('an active swap file')
        if qemu_lock_held(path):
            reasons.append(QEMU_USER)
        mounts = []
        for loop in self.loop_devices(path):
            loop_mounts, loop_reasons = self.block_device_usage(loop, online=online)
            mounts.extend((loop, point) for point in loop_mounts)
            reasons.extend('attached to %s, which is %s' % (loop, reason) for reason in loop_reasons)
        return mounts, reasons

    def usage(self, path, block_device, online=False):
        """How ``path`` is used: ([(device, mount point)], other reasons); the devices are loop devices of a file."""
        if block_device:
            points, reasons = self.block_device_usage(path, online=online)
            return [(path, point) for point in points], reasons
        return self.file_usage(path, online=online)

    def reasons(self, path, block_device):
        """Why ``path`` is in use: a list of reasons, empty when it is free."""
        return self.block_device_users(path) if block_device else self.file_users(path)

    def block_device_users(self, path):
        """Why the block device ``path`` is in use: a list of reasons, empty when it is free."""
        mounts, reasons = self.block_device_usage(path)
        return ['mounted on %s' % point for point in mounts] + reasons

    def file_users(self, path):
        """Why the image file ``path`` is in use (an active swap file, a loop device in use, a qemu process)."""
        mounts, reasons = self.file_usage(path)
        return ['attached to %s, which is mounted on %s' % (loop, point) for loop, point in mounts] + reasons
