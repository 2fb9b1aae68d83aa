# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File systems on raw images and block devices: probes, users and command lines.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

What is on a device is read with ``blkid -p`` (libblkid's low-level probe,
no cache) and ``wipefs --no-act``; it is never guessed. Every command line
is an argv list run without a shell in the C locale, with ``--`` before the
device path. The ``*_argv`` functions only build command lines, so that they
can be pinned by tests and reported in check mode.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shlex
import stat
import struct
import time

from ansible_collections.hypervisor.images.plugins.module_utils._fs import MOUNTINFO, parse_mountinfo, unescape_octal
from ansible_collections.hypervisor.images.plugins.module_utils._run import CommandError, run_command


class FsSpec:
    """What this module knows about one ``fstype``: its tools, flags, limits and keywords.

    ``blkid_types`` are the TYPE values blkid reports for it; ``label_flags``
    and ``uuid_flags`` the mkfs options that set them (the first one is
    used); ``mkfs_uuid_keywords`` the special UUID values mkfs takes, and
    ``uuid_keywords`` those the UUID-changing tool takes for an existing file
    system; ``uuid_form`` is ``uuid``, ``vfat`` (a volume ID) or ``lvm``.
    """

    def __init__(self, name, tool, blkid_types=None, label_flags=(), label_max=None, uuid_flags=(),
                 uuid_form='uuid', mkfs_uuid_keywords=(), uuid_keywords=(), mkfs_args=(), dashdash=True,
                 regular_file=True, grow=None, what='file system'):
        self.name = name
        self.tool = tool
        self.blkid_types = tuple(blkid_types or (name,))
        self.label_flags = tuple(label_flags)
        self.label_max = label_max
        self.uuid_flags = tuple(uuid_flags)
        self.uuid_form = uuid_form
        self.mkfs_uuid_keywords = tuple(mkfs_uuid_keywords)
        self.uuid_keywords = tuple(uuid_keywords)
        self.mkfs_args = tuple(mkfs_args)
        self.dashdash = dashdash
        self.regular_file = regular_file
        self.grow = grow
        self.what = what

    @property
    def keywords(self):
        return tuple(sorted(set(self.mkfs_uuid_keywords) | set(self.uuid_keywords)))


_EXT_KEYWORDS = ('clear', 'random', 'time')

SPECS = dict((spec.name, spec) for spec in (
    FsSpec('ext2', 'mkfs.ext2', label_flags=('-L',), label_max=16, uuid_flags=('-U',),
           mkfs_uuid_keywords=_EXT_KEYWORDS, uuid_keywords=_EXT_KEYWORDS, grow='ext'),
    FsSpec('ext3', 'mkfs.ext3', label_flags=('-L',), label_max=16, uuid_flags=('-U',),
           mkfs_uuid_keywords=_EXT_KEYWORDS, uuid_keywords=_EXT_KEYWORDS, grow='ext'),
    FsSpec('ext4', 'mkfs.ext4', blkid_types=('ext4', 'ext4dev'), label_flags=('-L',), label_max=16,
           uuid_flags=('-U',), mkfs_uuid_keywords=_EXT_KEYWORDS, uuid_keywords=_EXT_KEYWORDS, grow='ext'),
    FsSpec('ext4dev', 'mkfs.ext4', blkid_types=('ext4dev', 'ext4'), label_flags=('-L',), label_max=16,
           uuid_flags=('-U',), mkfs_uuid_keywords=_EXT_KEYWORDS, uuid_keywords=_EXT_KEYWORDS, grow='ext'),
    FsSpec('xfs', 'mkfs.xfs', label_flags=('-L',), label_max=12, uuid_flags=('-m',),
           uuid_keywords=('nil', 'generate'), grow='xfs'),
    FsSpec('btrfs', 'mkfs.btrfs', label_flags=('-L', '--label'), label_max=255, uuid_flags=('-U', '--uuid'),
           grow='btrfs'),
    FsSpec('vfat', 'mkfs.vfat', label_flags=('-n', '--volume-name'), label_max=11,
           uuid_flags=('-i', '--volume-id'), uuid_form='vfat'),
    FsSpec('swap', 'mkswap', label_flags=('-L', '--label'), label_max=15, uuid_flags=('-U', '--uuid'),
           mkfs_uuid_keywords=_EXT_KEYWORDS, uuid_keywords=_EXT_KEYWORDS, grow='swap', what='area'),
    FsSpec('f2fs', 'mkfs.f2fs', label_flags=('-l',), label_max=512, uuid_flags=('-U',), grow='f2fs'),
    FsSpec('reiserfs', 'mkfs.reiserfs', label_flags=('-l', '--label'), label_max=16, uuid_flags=('-u', '--uuid'),
           uuid_keywords=('random', 'time'), mkfs_args=('-q',)),
    FsSpec('ocfs2', 'mkfs.ocfs2', label_flags=('-L', '--label'), label_max=63, uuid_flags=('-U',),
           mkfs_args=('-q',)),
    FsSpec('gfs2', 'mkfs.gfs2', label_flags=('-t',), label_max=63, uuid_flags=('-U',), mkfs_args=('-O',),
           dashdash=False),
    FsSpec('lvm', 'pvcreate', blkid_types=('LVM2_member',), uuid_flags=('-u', '--uuid'), uuid_form='lvm',
           uuid_keywords=('random',), regular_file=False, grow='lvm', what='physical volume'),
))
FSTYPES = tuple(SPECS)
EXT_TYPES = ('ext2', 'ext3', 'ext4', 'ext4dev')

# Characters mkfs.vfat and fatlabel refuse in a label.
VFAT_LABEL_FORBIDDEN = '*?.,;:/\\|+=<>[]"'
# A gfs2 label is its lock table, CLUSTER:NAME (mkfs.gfs2 allows 32 and 30 characters).
_GFS2_TABLE_RE = re.compile(r'^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{1,30}$')
_UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
_VFAT_ID_RE = re.compile(r'^([0-9A-F]{4})-?([0-9A-F]{4})$')
_LVM_ID_RE = re.compile(r'^[A-Za-z0-9!#]{6}(-[A-Za-z0-9!#]{4}){5}-[A-Za-z0-9!#]{6}$')
NIL_UUID = '00000000-0000-0000-0000-000000000000'

BLKID_NOTHING = 2      # blkid: nothing was found
BLKID_AMBIVALENT = 8   # blkid: several signatures, it cannot tell which one is in use
PROC_SWAPS = '/proc/swaps'
SYS_DEV_BLOCK = '/sys/dev/block'
SWAP_MAGIC = b'SWAPSPACE2'
QEMU_USER = 'open in a qemu process (a running virtual machine, qemu-nbd or qemu-img), which holds its image locks'


class FsError(CommandError):
    """A probe or a file system tool failed. Carries ``cmd``, ``rc``, ``stdout`` and ``stderr`` when a command ran."""


_BANNER_RE = re.compile(r'^\S+ \d+(\.\d+)+ \(\d+-\w+-\d+\)$')  # "mke2fs 1.47.0 (5-Feb-2023)"


def _last_line(text):
    """The line of an error output that says what went wrong: the last, or the one before a usage text."""
    lines = [line.strip() for line in (text or '').strip().splitlines() if line.strip()]
    lines = [line for line in lines if not _BANNER_RE.match(line)]
    for index, line in enumerate(lines):
        if line.lower().startswith('usage') and index > 0:
            return lines[index - 1]
    return lines[-1] if lines else 'no error message'


# -- parameters ---------------------------------------------------------------

def split_opts(opts):
    """``opts`` as an argv list: a string is split as a shell would (without running one), a list is kept."""
    if opts is None:
        return []
    if isinstance(opts, str):
        try:
            return shlex.split(opts)
        except ValueError as exc:
            raise ValueError('opts: cannot split %r into arguments: %s' % (opts, exc))
    if isinstance(opts, (list, tuple)):
        args = []
        for item in opts:
            if isinstance(item, (dict, list, tuple)) or item is None or isinstance(item, bool):
                raise ValueError('opts: %r is not a single argument; give a list of strings' % (item,))
            args.append(str(item))
        return args
    raise ValueError('opts: give a string such as "-m 1 -E lazy_itable_init=0" or a list of arguments, not a %s'
                     % type(opts).__name__)


def label_problem(spec, label):
    """Why ``label`` cannot be the label of a ``spec`` file system, or None."""
    if not spec.label_flags:
        return 'a %s %s has no label; leave label out' % (spec.name, spec.what)
    if label == '':
        return 'the label is empty; leave label out to keep the current one'
    if any(ord(char) < 0x20 or ord(char) > 0x7e for char in label):
        return 'labels are limited to printable ASCII characters (blkid reports others escaped)'
    if spec.name == 'gfs2':
        if not _GFS2_TABLE_RE.match(label):
            return ('the label of gfs2 is its lock table, CLUSTER:NAME, such as hv:images (at most 32 and 30 '
                    'letters, digits, - or _)')
        return None
    if len(label.encode('utf-8')) > spec.label_max:
        return '%s labels are at most %d characters; %r has %d' % (spec.name, spec.label_max, label, len(label))
    if spec.name == 'vfat':
        bad = sorted(set(char for char in label if char in VFAT_LABEL_FORBIDDEN))
        if bad:
            return 'vfat labels cannot contain %s' % ' '.join(bad)
    return None


def normalize_uuid(spec, uuid):
    """``uuid`` in the form blkid reports it for ``spec``; a keyword as it is; ValueError when it is neither."""
    text = str(uuid).strip()
    if text.lower() in spec.keywords:
        return text.lower()
    if spec.uuid_form == 'vfat':
        match = _VFAT_ID_RE.match(text.upper())
        if match:
            return '%s-%s' % match.groups()
        example = 'a volume ID of 8 hexadecimal digits, such as 1A2B-3C4D'
    elif spec.uuid_form == 'lvm':
        if _LVM_ID_RE.match(text):
            return text
        example = 'an LVM identifier of 32 characters in seven groups, such as Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn'
    else:
        if _UUID_RE.match(text.lower()):
            return text.lower()
        example = 'a UUID such as 0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f (for example from the to_uuid filter)'
    if spec.keywords:
        example += ', or one of the keywords %s' % ', '.join(spec.keywords)
    raise ValueError('give %s' % example)


def opts_value(args, flags):
    """The value that ``args`` give to one of ``flags`` (``-X value``, ``-Xvalue``, ``--long=value``), or None.

    The last one counts, as for the tools. ``-m`` (mkfs.xfs metadata
    options) only counts for its ``uuid=`` sub-option.
    """
    found = None
    for index, arg in enumerate(args):
        for flag in flags:
            if arg == flag:
                value = args[index + 1] if index + 1 < len(args) else ''
            elif flag.startswith('--') and arg.startswith(flag + '='):
                value = arg[len(flag) + 1:]
            elif not flag.startswith('--') and arg.startswith(flag) and not arg.startswith('--'):
                value = arg[len(flag):]
            else:
                continue
            if flag == '-m':
                subs = [part.split('=', 1)[1] for part in value.split(',') if part.startswith('uuid=')]
                if not subs:
                    continue
                value = subs[-1]
            found = value
    return found


# -- command lines -------------------------------------------------------------

def probe_argv(blkid, dev):
    return [blkid, '-p', '-c', '/dev/null', '-o', 'export', '--', dev]


def signatures_argv(wipefs, dev):
    return [wipefs, '--no-act', '--json', '--output', 'DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL', '--', dev]


def wipe_argv(wipefs, dev, partition_table=False):
    """``wipefs --all``; ``--force`` is needed (and only given) to erase a partition table in an image file."""
    argv = [wipefs, '--all']
    if partition_table:
        argv.append('--force')
    return argv + ['--', dev]


def _dev_args(spec, dev):
    return (['--'] if spec.dashdash else []) + [dev]


def mkfs_argv(tool, spec, dev, label=None, uuid=None, opts=(), regular_file=False):
    """The mkfs command line; ``opts`` come last before the device, so that they can override defaults.

    mke2fs discards (punches holes into) an image file by default, which
    would undo its preallocation; ``-E nodiscard`` keeps it. An ``-E`` in
    ``opts`` replaces it, as mke2fs keeps the last one. ``uuid`` is given to
    mkfs only when it takes it (a UUID, or one of its keywords).
    """
    argv = [tool] + list(spec.mkfs_args)
    if spec.name in EXT_TYPES and regular_file:
        argv += ['-E', 'nodiscard']
    if label is not None:
        argv += [spec.label_flags[0], label]
    if uuid is not None and mkfs_takes_uuid(spec, uuid):
        if spec.name == 'xfs':
            argv += ['-m', 'uuid=%s' % uuid]
        elif spec.uuid_form == 'vfat':
            argv += [spec.uuid_flags[0], uuid.replace('-', '')]
        elif spec.name == 'lvm':
            argv += [spec.uuid_flags[0], uuid, '--norestorefile']
        else:
            argv += [spec.uuid_flags[0], uuid]
    return argv + list(opts) + _dev_args(spec, dev)


def mkfs_takes_uuid(spec, uuid):
    """Whether mkfs itself sets ``uuid`` (a real one, or a keyword of its own)."""
    return bool(spec.uuid_flags) and (uuid not in spec.keywords or uuid in spec.mkfs_uuid_keywords)


# The tools that set the label and the UUID of an existing file system in one command, and their flags.
RETUNE = {
    'ext2': ('tune2fs', '-L', '-U'),
    'ext3': ('tune2fs', '-L', '-U'),
    'ext4': ('tune2fs', '-L', '-U'),
    'ext4dev': ('tune2fs', '-L', '-U'),
    'swap': ('swaplabel', '-L', '-U'),
    'reiserfs': ('reiserfstune', '-l', '-u'),
    'gfs2': ('tunegfs2', '-L', '-U'),
}


def relabel_argvs(tools, spec, dev, label=None, uuid=None):
    """Command lines that set the label and/or UUID of an existing, unmounted file system, in order.

    ``tools`` maps a tool name to its path. XFS is changed with xfs_db as
    xfs_admin does, without xfs_admin's shell wrapper, which breaks on paths
    with spaces. Raises ValueError for what no tool here can change.
    """
    fstype = spec.name
    if label is None and uuid is None:
        return []
    if fstype in RETUNE:
        # One tool sets both: TOOL [LABEL_FLAG label] [UUID_FLAG uuid] DEV.
        tool, label_flag, uuid_flag = RETUNE[fstype]
        argv = [tools(tool)]
        if label is not None:
            argv += [label_flag, label]
        if uuid is not None:
            argv += [uuid_flag, uuid]
        return [argv + _dev_args(spec, dev)]
    if fstype == 'xfs':
        argv = [tools('xfs_db'), '-x', '-p', 'xfs_admin']
        if label is not None:
            argv += ['-c', 'label %s' % label]
        if uuid is not None:
            argv += ['-c', 'uuid %s' % uuid]
        return [argv + ['--', dev]]
    argvs = []
    if label is not None:
        if fstype == 'btrfs':
            argvs.append([tools('btrfs'), 'filesystem', 'label', '--', dev, label])
        elif fstype == 'vfat':
            argvs.append([tools('fatlabel'), '--', dev, label])
        elif fstype == 'f2fs':
            argvs.append([tools('f2fslabel'), '--', dev, label])
        elif fstype == 'ocfs2':
            argvs.append([tools('tunefs.ocfs2'), '--yes', '-L', label, '--', dev])
        else:
            raise ValueError('a %s %s has no label' % (fstype, spec.what))
    if uuid is not None:
        if fstype == 'btrfs':
            # btrfstune -U rewrites the UUID in every metadata block; -f skips its question.
            argvs.append([tools('btrfstune'), '-f', '-U', uuid, '--', dev])
        elif fstype == 'vfat':
            argvs.append([tools('fatlabel'), '-i', '--', dev, uuid.replace('-', '')])
        elif fstype == 'ocfs2':
            argvs.append([tools('tunefs.ocfs2'), '--yes', '--uuid-reset=%s' % uuid, '--', dev])
        elif fstype == 'lvm' and uuid == 'random':
            argvs.append([tools('pvchange'), '--uuid', '--', dev])
        else:
            raise ValueError('the UUID of an existing %s %s cannot be changed by this module' % (fstype, spec.what))
    return argvs


def ext_info_argv(dumpe2fs, dev):
    return [dumpe2fs, '-h', '--', dev]


def resize_ext_argv(resize2fs, dev):
    return [resize2fs, '--', dev]


def xfs_db_size_argv(xfs_db, dev):
    return [xfs_db, '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', dev]


def xfs_info_argv(xfs_info, mount_point):
    return [xfs_info, mount_point]


def xfs_grow_argv(xfs_growfs, mount_point):
    return [xfs_growfs, '-d', mount_point]


def btrfs_show_argv(btrfs, mount_point):
    return [btrfs, 'filesystem', 'show', '--raw', mount_point]


def btrfs_grow_argv(btrfs, devid, mount_point):
    return [btrfs, 'filesystem', 'resize', '%s:max' % devid, mount_point]


def f2fs_grow_argv(resize_f2fs, dev):
    return [resize_f2fs, '--', dev]


def pvs_argv(pvs, dev):
    return [pvs, '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--', dev]


def pvresize_argv(pvresize, dev):
    return [pvresize, '--', dev]


def set_capacity_argv(losetup, loop):
    return [losetup, '--set-capacity', loop]


def loop_devices_argv(losetup, path):
    return [losetup, '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated', path]


# -- parsing ---------------------------------------------------------------------

_EXPORT_ESCAPE = re.compile(r'\\(.)')


def parse_blkid_export(text):
    """``KEY=value`` lines of ``blkid -o export`` as a dict; blkid's backslash escapes are undone."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if not sep or not key:
            continue
        fields[key] = _EXPORT_ESCAPE.sub(lambda match: match.group(1), value)
    return fields


class Probe:
    """What ``blkid -p`` found on a device."""

    def __init__(self, fields=None, ambivalent=False):
        self.fields = dict(fields or {})
        self.ambivalent = ambivalent

    @property
    def type(self):
        return self.fields.get('TYPE')

    @property
    def label(self):
        return self.fields.get('LABEL')

    @property
    def uuid(self):
        return self.fields.get('UUID')

    @property
    def usage(self):
        return self.fields.get('USAGE')

    @property
    def pttype(self):
        return self.fields.get('PTTYPE')

    @property
    def empty(self):
        return not self.ambivalent and not self.type and not self.pttype

    def holds_only(self, spec):
        """Whether the device carries a ``spec`` file system and nothing else blkid sees."""
        return not self.ambivalent and self.type in spec.blkid_types and not self.pttype

    def describe(self):
        if self.ambivalent:
            return 'several signatures (blkid cannot tell which one is in use)'
        parts = []
        if self.type == 'swap':
            parts.append('a swap area')
        elif self.type == 'LVM2_member':
            parts.append('an LVM physical volume')
        elif self.type and self.usage == 'filesystem':
            parts.append('%s %s file system' % ('an' if self.type[0] in 'aeiox' else 'a', self.type))
        elif self.type:
            parts.append('a %s signature (usage: %s)' % (self.type, self.usage or 'unknown'))
        if parts and self.label:
            parts[0] += ' labelled %r' % self.label
        if self.pttype:
            parts.append('a %s partition table' % self.pttype)
        return ' and '.join(parts) or 'nothing'


def parse_signatures(text):
    """Signatures listed by ``wipefs --no-act --json``: dicts with offset, type, usage, uuid and label."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise FsError('wipefs printed output that is not JSON: %s' % _last_line(text))
    signatures = []
    for entry in data.get('signatures') or []:
        signatures.append(dict((key, entry.get(key)) for key in ('offset', 'type', 'usage', 'uuid', 'label')))
    return signatures


def describe_signatures(signatures):
    return ', '.join('%s at offset %s' % (entry['type'], entry['offset']) for entry in signatures) or 'none'


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

    def needs_check(self):
        """Why resize2fs would ask for ``e2fsck -f`` first on the unmounted file system, or None."""
        if self.state != 'clean':
            return 'its state is "%s"' % self.state
        mounted, checked = _ctime(self.last_mount), _ctime(self.last_checked)
        if mounted is not None and (checked is None or mounted > checked):
            return 'it was mounted (%s) after its last check (%s)' % (self.last_mount, self.last_checked)
        return None


def _ctime(text):
    if not text or text == 'n/a':
        return None
    try:
        return time.mktime(time.strptime(text, '%a %b %d %H:%M:%S %Y'))
    except (ValueError, OverflowError):
        return None


# XFS adds a last allocation group only when it gets at least this many blocks (XFS_MIN_AG_BLOCKS).
XFS_MIN_AG_BLOCKS = 64


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
        raise FsError('xfs_db did not report the size of the XFS file system: %s' % _last_line(text))


_XFS_INFO_DATA = re.compile(r'^data\s*=\s*bsize=(\d+)\s+blocks=(\d+)', re.MULTILINE)
_XFS_INFO_AG = re.compile(r'agsize=(\d+) blks')


def parse_xfs_info(text):
    """xfs_info output of a mounted file system: an XfsGeometry."""
    data = _XFS_INFO_DATA.search(text)
    ag = _XFS_INFO_AG.search(text)
    if not data or not ag:
        raise FsError('xfs_info did not report the size of the XFS file system: %s' % _last_line(text))
    return XfsGeometry(int(data.group(2)), int(data.group(1)), int(ag.group(1)))


_BTRFS_DEVID = re.compile(r'^\s*devid\s+(\d+)\s+size\s+(\d+)\s+used\s+\d+\s+path\s+(.+?)\s*$', re.MULTILINE)


def parse_btrfs_show(text):
    """``btrfs filesystem show --raw`` output: a list of (devid, size, path)."""
    return [(int(devid), int(size), path) for devid, size, path in _BTRFS_DEVID.findall(text)]


def parse_pvs(text):
    """``pvs --reportformat json`` output for one device: a dict with pv_size, dev_size (ints) and pv_uuid."""
    try:
        rows = json.loads(text)['report'][0]['pv']
        row = rows[0]
        return {'pv_size': int(row['pv_size']), 'dev_size': int(row['dev_size']), 'pv_uuid': row['pv_uuid']}
    except (ValueError, KeyError, IndexError, TypeError):
        raise FsError('pvs did not report the physical volume: %s' % _last_line(text))


F2FS_MAGIC = 0xF2F52010
F2FS_SUPER_OFFSET = 1024


def read_f2fs_size(path):
    """Bytes the f2fs file system on ``path`` covers (its block count times its block size), or None."""
    with open(path, 'rb') as handle:
        handle.seek(F2FS_SUPER_OFFSET)
        head = handle.read(44)
    if len(head) < 44 or struct.unpack_from('<I', head, 0)[0] != F2FS_MAGIC:
        return None
    log_block_size = struct.unpack_from('<I', head, 16)[0]
    block_count = struct.unpack_from('<Q', head, 36)[0]
    return block_count << log_block_size


BTRFS_SUPER_OFFSET = 65536
BTRFS_MAGIC = b'_BHRfS_M'


def read_btrfs_device(path):
    """(devid, bytes the file system uses of this device, sector size) from the btrfs superblock, or None."""
    with open(path, 'rb') as handle:
        handle.seek(BTRFS_SUPER_OFFSET)
        head = handle.read(0xc9 + 16)
    if len(head) < 0xc9 + 16 or head[0x40:0x48] != BTRFS_MAGIC:
        return None
    sector_size = struct.unpack_from('<I', head, 0x90)[0]
    devid, total = struct.unpack_from('<QQ', head, 0xc9)
    return devid, total, sector_size


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


# -- sizes and users --------------------------------------------------------------

def device_size(path):
    """Size in bytes of a regular file or a block device."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def active_swaps(swaps=PROC_SWAPS):
    """Paths of the active swap areas (files and devices)."""
    try:
        with open(swaps, encoding='utf-8', errors='surrogateescape') as handle:
            lines = handle.read().splitlines()[1:]
    except OSError:
        return []
    return [unescape_octal(line.split()[0]) for line in lines if line.split()]


def _rdev_of(path):
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
        source = _rdev_of(entry['device']) if entry['device'].startswith('/') else None
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


# qemu takes open file description locks on bytes 100 to 299 of every image
# (and device) it opens: a shared lock per permission it uses or does not share.
QEMU_LOCK_START = 100
QEMU_LOCK_LENGTH = 200
F_OFD_GETLK = getattr(fcntl, 'F_OFD_GETLK', 36)
_FLOCK = 'hhqqi4x'  # struct flock on 64-bit Linux: type, whence, start, len, pid


def qemu_lock_held(path):
    """Whether a process holds qemu's image locks on ``path`` (a running VM, qemu-nbd, qemu-img).

    Asks the kernel whether a write lock on qemu's lock bytes would conflict
    (F_OFD_GETLK), which takes no lock. False where the kernel cannot tell.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        request = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, QEMU_LOCK_START, QEMU_LOCK_LENGTH, 0)
        try:
            answer = fcntl.fcntl(fd, F_OFD_GETLK, request)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                return False
            raise
        return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


# -- running -----------------------------------------------------------------------

class FsTools:
    """Finds and runs the tools of one module run.

    ``runner`` is called as ``runner(argv, limits)`` and returns a
    CommandResult (tests replace it); ``which`` maps a tool name to its path
    (``module.get_bin_path(name, required=True)`` by default, so only the
    tools a run really needs are required).
    """

    def __init__(self, module=None, runner=None, which=None, mountinfo=MOUNTINFO, swaps=PROC_SWAPS,
                 sys_dev_block=SYS_DEV_BLOCK):
        self.runner = runner or run_command
        self._which = which or (lambda name: module.get_bin_path(name, required=True))
        self._paths = {}
        self.mountinfo = mountinfo
        self.swaps = swaps
        self.sys_dev_block = sys_dev_block

    def __call__(self, name):
        """The path of the tool ``name``."""
        if name not in self._paths:
            self._paths[name] = self._which(name)
        return self._paths[name]

    def run(self, argv, what, ok=(0,)):
        result = self.runner(argv, None)
        if result.rc not in ok:
            raise FsError('%s failed (rc=%s): %s' % (what, result.rc, _last_line(result.stderr)),
                          cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr)
        return result

    # -- probes --

    def probe(self, dev):
        result = self.run(probe_argv(self('blkid'), dev), 'blkid (probing %s)' % dev,
                          ok=(0, BLKID_NOTHING, BLKID_AMBIVALENT))
        if result.rc == BLKID_NOTHING:
            return Probe()
        if result.rc == BLKID_AMBIVALENT:
            return Probe(ambivalent=True)
        return Probe(parse_blkid_export(result.stdout))

    def signatures(self, dev):
        result = self.run(signatures_argv(self('wipefs'), dev), 'wipefs --no-act (listing the signatures of %s)' % dev)
        return parse_signatures(result.stdout)

    def ext_geometry(self, dev):
        result = self.run(ext_info_argv(self('dumpe2fs'), dev), 'dumpe2fs (reading the superblock of %s)' % dev)
        return ExtGeometry(parse_dumpe2fs(result.stdout))

    def loop_devices(self, path):
        result = self.run(loop_devices_argv(self('losetup'), path), 'losetup (finding loop devices on %s)' % path)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def xfs_geometry(self, dev, mount_point=None):
        """The XFS geometry: from the mounted file system when it is mounted (the device may lag behind)."""
        if mount_point:
            result = self.run(xfs_info_argv(self('xfs_info'), mount_point), 'xfs_info (reading %s)' % mount_point)
            return parse_xfs_info(result.stdout)
        result = self.run(xfs_db_size_argv(self('xfs_db'), dev), 'xfs_db (reading the superblock of %s)' % dev)
        return parse_xfs_db(result.stdout)

    def btrfs_devices(self, mount_point):
        result = self.run(btrfs_show_argv(self('btrfs'), mount_point), 'btrfs filesystem show (on %s)' % mount_point)
        return parse_btrfs_show(result.stdout)

    def pv(self, dev):
        result = self.run(pvs_argv(self('pvs'), dev), 'pvs (reading the physical volume %s)' % dev)
        return parse_pvs(result.stdout)

    # -- users --

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
            if _rdev_of(swap) in rdevs:
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
        """How the image file ``path`` is used: ([(loop device, mount point)], [(loop device, reason)], reasons).

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

    def block_device_users(self, path):
        """Why the block device ``path`` is in use: a list of reasons, empty when it is free."""
        mounts, reasons = self.block_device_usage(path)
        return ['mounted on %s' % point for point in mounts] + reasons

    def file_users(self, path):
        """Why the image file ``path`` is in use (an active swap file, a loop device in use, a qemu process)."""
        mounts, reasons = self.file_usage(path)
        return ['attached to %s, which is mounted on %s' % (loop, point) for loop, point in mounts] + reasons
