# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command lines, output parsing and probes of _mkfs."""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import subprocess

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _mkfs
from ansible_collections.hypervisor.images.plugins.module_utils._mkfs import (
    FSTYPES,
    SPECS,
    ExtGeometry,
    FsError,
    FsTools,
    Probe,
    XfsGeometry,
    label_problem,
    mkfs_argv,
    mkfs_takes_uuid,
    normalize_uuid,
    opts_value,
    parse_blkid_export,
    parse_btrfs_show,
    parse_dumpe2fs,
    parse_pvs,
    parse_signatures,
    parse_xfs_db,
    parse_xfs_info,
    read_btrfs_device,
    read_f2fs_size,
    relabel_argvs,
    split_opts,
    wipe_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import CommandResult

DEV = '/srv/images/disk one.raw'
MiB = 1024 * 1024
UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'
LVM_ID = 'Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn'


def tool(name):
    return '/sbin/' + name


def spec_argv(fstype, **kwargs):
    spec = SPECS[fstype]
    return mkfs_argv(tool(spec.tool), spec, DEV, **kwargs)


# -- the file system types ---------------------------------------------------------------

def test_the_fstypes_of_community_general_filesystem():
    assert FSTYPES == ('ext2', 'ext3', 'ext4', 'ext4dev', 'xfs', 'btrfs', 'vfat', 'swap', 'f2fs', 'reiserfs', 'ocfs2',
                       'gfs2', 'lvm')
    assert all(SPECS[name].name == name for name in FSTYPES)
    assert SPECS['ext4dev'].tool == 'mkfs.ext4' and SPECS['lvm'].tool == 'pvcreate'
    assert SPECS['ext4'].blkid_types == ('ext4', 'ext4dev') and SPECS['lvm'].blkid_types == ('LVM2_member',)
    assert SPECS['lvm'].regular_file is False and SPECS['lvm'].what == 'physical volume'
    assert SPECS['swap'].what == 'area'
    assert [name for name in FSTYPES if SPECS[name].grow] == [
        'ext2', 'ext3', 'ext4', 'ext4dev', 'xfs', 'btrfs', 'swap', 'f2fs', 'lvm']


@pytest.mark.parametrize('fstype, keywords', [
    ('ext4', ('clear', 'random', 'time')),
    ('swap', ('clear', 'random', 'time')),
    ('xfs', ('generate', 'nil')),
    ('reiserfs', ('random', 'time')),
    ('lvm', ('random',)),
    ('btrfs', ()),
    ('vfat', ()),
    ('f2fs', ()),
    ('gfs2', ()),
])
def test_uuid_keywords(fstype, keywords):
    assert SPECS[fstype].keywords == keywords


# -- mkfs command lines, pinned -------------------------------------------------------

@pytest.mark.parametrize('fstype, kwargs, argv', [
    ('ext4', {}, ['/sbin/mkfs.ext4', '--', DEV]),
    ('ext4', {'regular_file': True}, ['/sbin/mkfs.ext4', '-E', 'nodiscard', '--', DEV]),
    ('ext2', {'label': 'eph0', 'regular_file': True},
     ['/sbin/mkfs.ext2', '-E', 'nodiscard', '-L', 'eph0', '--', DEV]),
    ('ext3', {'label': 'eph0', 'uuid': UUID},
     ['/sbin/mkfs.ext3', '-L', 'eph0', '-U', UUID, '--', DEV]),
    ('ext4', {'label': 'eph0', 'uuid': UUID, 'opts': ['-m', '1', '-E', 'lazy_itable_init=0'], 'regular_file': True},
     ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0', '-U', UUID, '-m', '1', '-E', 'lazy_itable_init=0', '--', DEV]),
    ('xfs', {}, ['/sbin/mkfs.xfs', '--', DEV]),
    ('xfs', {'label': 'scratch', 'regular_file': True}, ['/sbin/mkfs.xfs', '-L', 'scratch', '--', DEV]),
    ('xfs', {'label': 'scratch', 'uuid': UUID, 'opts': ['-m', 'reflink=1']},
     ['/sbin/mkfs.xfs', '-L', 'scratch', '-m', 'uuid=' + UUID, '-m', 'reflink=1', '--', DEV]),
    ('btrfs', {}, ['/sbin/mkfs.btrfs', '--', DEV]),
    ('btrfs', {'label': 'data', 'uuid': UUID, 'opts': ['--mixed']},
     ['/sbin/mkfs.btrfs', '-L', 'data', '-U', UUID, '--mixed', '--', DEV]),
    ('vfat', {}, ['/sbin/mkfs.vfat', '--', DEV]),
    ('vfat', {'label': 'CONFIG-2', 'uuid': '1A2B-3C4D', 'opts': ['-F', '32']},
     ['/sbin/mkfs.vfat', '-n', 'CONFIG-2', '-i', '1A2B3C4D', '-F', '32', '--', DEV]),
    ('swap', {}, ['/sbin/mkswap', '--', DEV]),
    ('swap', {'label': 'swap0', 'uuid': UUID, 'regular_file': True},
     ['/sbin/mkswap', '-L', 'swap0', '-U', UUID, '--', DEV]),
])
def test_mkfs_argv(fstype, kwargs, argv):
    assert spec_argv(fstype, **kwargs) == argv


@pytest.mark.parametrize('fstype, kwargs, argv', [
    # ext4dev is made by mkfs.ext4, with the options of ext4
    ('ext4dev', {'label': 'eph0', 'uuid': UUID, 'regular_file': True},
     ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0', '-U', UUID, '--', DEV]),
    ('f2fs', {}, ['/sbin/mkfs.f2fs', '--', DEV]),
    ('f2fs', {'label': 'data', 'uuid': UUID, 'opts': ['-O', 'extra_attr'], 'regular_file': True},
     ['/sbin/mkfs.f2fs', '-l', 'data', '-U', UUID, '-O', 'extra_attr', '--', DEV]),
    ('reiserfs', {}, ['/sbin/mkfs.reiserfs', '-q', '--', DEV]),
    ('reiserfs', {'label': 'old', 'uuid': UUID}, ['/sbin/mkfs.reiserfs', '-q', '-l', 'old', '-u', UUID, '--', DEV]),
    ('ocfs2', {}, ['/sbin/mkfs.ocfs2', '-q', '--', DEV]),
    ('ocfs2', {'label': 'shared', 'uuid': UUID, 'opts': ['-M', 'local']},
     ['/sbin/mkfs.ocfs2', '-q', '-L', 'shared', '-U', UUID, '-M', 'local', '--', DEV]),
    # mkfs.gfs2 takes no "--"; -O keeps it from asking for confirmation
    ('gfs2', {'opts': ['-p', 'lock_nolock']}, ['/sbin/mkfs.gfs2', '-O', '-p', 'lock_nolock', DEV]),
    ('gfs2', {'label': 'hv:images', 'uuid': UUID, 'opts': ['-j', '2']},
     ['/sbin/mkfs.gfs2', '-O', '-t', 'hv:images', '-U', UUID, '-j', '2', DEV]),
    ('lvm', {}, ['/sbin/pvcreate', '--', DEV]),
    ('lvm', {'uuid': LVM_ID}, ['/sbin/pvcreate', '-u', LVM_ID, '--norestorefile', '--', DEV]),
    ('lvm', {'uuid': LVM_ID, 'opts': ['--dataalignment', '1m']},
     ['/sbin/pvcreate', '-u', LVM_ID, '--norestorefile', '--dataalignment', '1m', '--', DEV]),
])
def test_mkfs_argv_of_the_other_types(fstype, kwargs, argv):
    assert spec_argv(fstype, **kwargs) == argv


@pytest.mark.parametrize('fstype, uuid, argv', [
    # the keywords mkfs takes itself
    ('ext4', 'random', ['/sbin/mkfs.ext4', '-U', 'random', '--', DEV]),
    ('ext3', 'time', ['/sbin/mkfs.ext3', '-U', 'time', '--', DEV]),
    ('swap', 'clear', ['/sbin/mkswap', '-U', 'clear', '--', DEV]),
    # those it does not: mkfs makes a random UUID, and xfs nil is set afterwards
    ('xfs', 'generate', ['/sbin/mkfs.xfs', '--', DEV]),
    ('xfs', 'nil', ['/sbin/mkfs.xfs', '--', DEV]),
    ('reiserfs', 'random', ['/sbin/mkfs.reiserfs', '-q', '--', DEV]),
    ('lvm', 'random', ['/sbin/pvcreate', '--', DEV]),
])
def test_mkfs_argv_with_uuid_keywords(fstype, uuid, argv):
    assert spec_argv(fstype, uuid=uuid) == argv


@pytest.mark.parametrize('fstype, uuid, takes', [
    ('ext4', UUID, True), ('ext4', 'random', True), ('ext4', 'clear', True),
    ('xfs', UUID, True), ('xfs', 'nil', False), ('xfs', 'generate', False),
    ('swap', 'time', True), ('reiserfs', 'random', False), ('lvm', 'random', False), ('lvm', LVM_ID, True),
    ('vfat', '1A2B-3C4D', True), ('gfs2', UUID, True),
])
def test_mkfs_takes_uuid(fstype, uuid, takes):
    assert mkfs_takes_uuid(SPECS[fstype], uuid) is takes


def test_mkfs_argv_never_adds_a_force_flag():
    for fstype in FSTYPES:
        spec = SPECS[fstype]
        argv = mkfs_argv(tool(spec.tool), spec, DEV, label='x' if spec.label_flags else None, regular_file=True)
        assert not set(argv) & {'-F', '-f', '--force', '-ff', '-y', '--yes'}, fstype
        assert argv[-1] == DEV and ('--' in argv) is (fstype != 'gfs2')


@pytest.mark.parametrize('partition_table, argv', [
    (False, ['/sbin/wipefs', '--all', '--', DEV]),
    (True, ['/sbin/wipefs', '--all', '--force', '--', DEV]),
])
def test_wipe_argv(partition_table, argv):
    assert wipe_argv('/sbin/wipefs', DEV, partition_table=partition_table) == argv


def test_probe_and_listing_argv():
    # -c /dev/null: no blkid cache is read or written
    assert _mkfs.probe_argv('/sbin/blkid', DEV) == ['/sbin/blkid', '-p', '-c', '/dev/null', '-o', 'export', '--', DEV]
    assert _mkfs.signatures_argv('/sbin/wipefs', DEV) == [
        '/sbin/wipefs', '--no-act', '--json', '--output', 'DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL', '--', DEV]
    assert _mkfs.loop_devices_argv('/sbin/losetup', DEV) == [
        '/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated', DEV]
    assert _mkfs.ext_info_argv('/sbin/dumpe2fs', DEV) == ['/sbin/dumpe2fs', '-h', '--', DEV]
    assert _mkfs.resize_ext_argv('/sbin/resize2fs', DEV) == ['/sbin/resize2fs', '--', DEV]


def test_size_and_growth_argv():
    assert _mkfs.xfs_db_size_argv('/sbin/xfs_db', DEV) == [
        '/sbin/xfs_db', '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', DEV]
    assert _mkfs.xfs_info_argv('/sbin/xfs_info', '/mnt/a b') == ['/sbin/xfs_info', '/mnt/a b']
    assert _mkfs.xfs_grow_argv('/sbin/xfs_growfs', '/mnt/a b') == ['/sbin/xfs_growfs', '-d', '/mnt/a b']
    assert _mkfs.btrfs_show_argv('/sbin/btrfs', '/mnt/b') == ['/sbin/btrfs', 'filesystem', 'show', '--raw', '/mnt/b']
    assert _mkfs.btrfs_grow_argv('/sbin/btrfs', 2, '/mnt/b') == ['/sbin/btrfs', 'filesystem', 'resize', '2:max',
                                                                 '/mnt/b']
    assert _mkfs.f2fs_grow_argv('/sbin/resize.f2fs', DEV) == ['/sbin/resize.f2fs', '--', DEV]
    assert _mkfs.pvs_argv('/sbin/pvs', DEV) == [
        '/sbin/pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--', DEV]
    assert _mkfs.pvresize_argv('/sbin/pvresize', DEV) == ['/sbin/pvresize', '--', DEV]
    assert _mkfs.set_capacity_argv('/sbin/losetup', '/dev/loop3') == ['/sbin/losetup', '--set-capacity', '/dev/loop3']


@pytest.mark.parametrize('fstype, label, uuid, argvs', [
    ('ext4', 'new', None, [['/sbin/tune2fs', '-L', 'new', '--', DEV]]),
    ('ext2', None, UUID, [['/sbin/tune2fs', '-U', UUID, '--', DEV]]),
    ('ext3', 'new', UUID, [['/sbin/tune2fs', '-L', 'new', '-U', UUID, '--', DEV]]),
    ('xfs', 'new', UUID, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'label new', '-c', 'uuid ' + UUID, '--', DEV]]),
    ('xfs', 'new', None, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'label new', '--', DEV]]),
    ('btrfs', 'new label', None, [['/sbin/btrfs', 'filesystem', 'label', '--', DEV, 'new label']]),
    ('vfat', 'NEW', '1A2B-3C4D', [['/sbin/fatlabel', '--', DEV, 'NEW'], ['/sbin/fatlabel', '-i', '--', DEV, '1A2B3C4D']]),
    ('vfat', None, '1A2B-3C4D', [['/sbin/fatlabel', '-i', '--', DEV, '1A2B3C4D']]),
    ('swap', 'swap1', UUID, [['/sbin/swaplabel', '-L', 'swap1', '-U', UUID, '--', DEV]]),
    ('swap', None, None, []),
])
def test_relabel_argvs(fstype, label, uuid, argvs):
    assert relabel_argvs(tool, SPECS[fstype], DEV, label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('fstype, label, uuid, argvs', [
    ('ext4dev', 'new', 'random', [['/sbin/tune2fs', '-L', 'new', '-U', 'random', '--', DEV]]),
    ('ext4', None, 'clear', [['/sbin/tune2fs', '-U', 'clear', '--', DEV]]),
    ('xfs', None, 'nil', [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid nil', '--', DEV]]),
    ('xfs', None, 'generate', [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid generate', '--', DEV]]),
    # btrfstune rewrites every metadata block; -f skips its question
    ('btrfs', None, UUID, [['/sbin/btrfstune', '-f', '-U', UUID, '--', DEV]]),
    ('btrfs', 'new', UUID, [['/sbin/btrfs', 'filesystem', 'label', '--', DEV, 'new'],
                            ['/sbin/btrfstune', '-f', '-U', UUID, '--', DEV]]),
    ('f2fs', 'data', None, [['/sbin/f2fslabel', '--', DEV, 'data']]),
    ('reiserfs', 'new', UUID, [['/sbin/reiserfstune', '-l', 'new', '-u', UUID, '--', DEV]]),
    ('reiserfs', None, 'random', [['/sbin/reiserfstune', '-u', 'random', '--', DEV]]),
    ('ocfs2', 'shared', None, [['/sbin/tunefs.ocfs2', '--yes', '-L', 'shared', '--', DEV]]),
    ('ocfs2', None, UUID, [['/sbin/tunefs.ocfs2', '--yes', '--uuid-reset=%s' % UUID, '--', DEV]]),
    ('ocfs2', 'shared', UUID, [['/sbin/tunefs.ocfs2', '--yes', '-L', 'shared', '--', DEV],
                               ['/sbin/tunefs.ocfs2', '--yes', '--uuid-reset=%s' % UUID, '--', DEV]]),
    # tunegfs2 takes no "--"
    ('gfs2', 'hv:other', UUID, [['/sbin/tunegfs2', '-L', 'hv:other', '-U', UUID, DEV]]),
    ('gfs2', None, UUID, [['/sbin/tunegfs2', '-U', UUID, DEV]]),
    ('lvm', None, 'random', [['/sbin/pvchange', '--uuid', '--', DEV]]),
    ('lvm', None, None, []),
])
def test_relabel_argvs_of_the_other_types(fstype, label, uuid, argvs):
    assert relabel_argvs(tool, SPECS[fstype], DEV, label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('fstype, label, uuid, fragment', [
    ('f2fs', None, UUID, 'UUID of an existing f2fs file system cannot be changed'),
    ('lvm', None, LVM_ID, 'UUID of an existing lvm physical volume cannot be changed'),
    ('lvm', 'x', None, 'a lvm physical volume has no label'),
])
def test_relabel_argvs_refuses_what_no_tool_changes(fstype, label, uuid, fragment):
    with pytest.raises(ValueError) as excinfo:
        relabel_argvs(tool, SPECS[fstype], DEV, label=label, uuid=uuid)
    assert fragment in str(excinfo.value)


# -- parameters ------------------------------------------------------------------------

@pytest.mark.parametrize('opts, args', [
    (None, []),
    ('', []),
    ('-m 1 -E lazy_itable_init=0', ['-m', '1', '-E', 'lazy_itable_init=0']),
    ("-O 'a b' \"c d\"", ['-O', 'a b', 'c d']),
    (['-m', 1, '-q'], ['-m', '1', '-q']),
])
def test_split_opts(opts, args):
    assert split_opts(opts) == args


@pytest.mark.parametrize('opts', ['-O "unclosed', [['nested']], [None], [True], {'a': 1}, 5])
def test_split_opts_refuses(opts):
    with pytest.raises(ValueError):
        split_opts(opts)


@pytest.mark.parametrize('fstype, label, fragment', [
    ('ext4', '', 'empty'),
    ('ext4', 'x' * 17, 'at most 16'),
    ('xfs', 'x' * 13, 'at most 12'),
    ('swap', 'x' * 16, 'at most 15'),
    ('vfat', 'x' * 12, 'at most 11'),
    ('btrfs', 'x' * 256, 'at most 255'),
    ('vfat', 'A.B', 'cannot contain .'),
    ('ext4', 'caf\u00e9', 'printable ASCII'),
    ('ext4', 'a\tb', 'printable ASCII'),
    ('ext4dev', 'x' * 17, 'at most 16'),
    ('f2fs', 'x' * 513, 'at most 512'),
    ('reiserfs', 'x' * 17, 'at most 16'),
    ('ocfs2', 'x' * 64, 'at most 63'),
    ('lvm', 'pv0', 'a lvm physical volume has no label; leave label out'),
    ('gfs2', 'images', 'lock table, CLUSTER:NAME'),
    ('gfs2', 'hv:', 'lock table'),
    ('gfs2', ':images', 'lock table'),
    ('gfs2', 'hv:im:ages', 'lock table'),
    ('gfs2', 'hv:im ages', 'lock table'),
    ('gfs2', 'x' * 33 + ':images', 'lock table'),
    ('gfs2', 'hv:' + 'x' * 31, 'lock table'),
    ('gfs2', '', 'empty'),
])
def test_label_problems(fstype, label, fragment):
    assert fragment in label_problem(SPECS[fstype], label)


@pytest.mark.parametrize('fstype, label', [
    ('ext4', 'x' * 16), ('xfs', 'x' * 12), ('swap', 'x' * 15), ('vfat', 'CONFIG-2'), ('btrfs', 'a b' * 80),
    ('ext4', "it's"), ('f2fs', 'x' * 512), ('reiserfs', 'x' * 16), ('ocfs2', 'x' * 63),
    ('gfs2', 'hv:images'), ('gfs2', 'my_cluster-1:fs_0'), ('gfs2', 'x' * 32 + ':' + 'y' * 30),
])
def test_good_labels(fstype, label):
    assert label_problem(SPECS[fstype], label) is None


@pytest.mark.parametrize('fstype, value, normal', [
    ('ext4', UUID.upper(), UUID),
    ('swap', ' %s ' % UUID, UUID),
    ('vfat', '1a2b3c4d', '1A2B-3C4D'),
    ('vfat', '1a2b-3C4D', '1A2B-3C4D'),
    ('xfs', UUID.upper(), UUID),
    ('btrfs', UUID, UUID),
    ('f2fs', UUID.upper(), UUID),
    ('gfs2', UUID, UUID),
    ('lvm', LVM_ID, LVM_ID),   # LVM identifiers are case-sensitive: kept as given
])
def test_normalize_uuid(fstype, value, normal):
    assert normalize_uuid(SPECS[fstype], value) == normal


@pytest.mark.parametrize('fstype, value, keyword', [
    ('ext4', 'random', 'random'),
    ('ext4', ' Random ', 'random'),
    ('ext2', 'CLEAR', 'clear'),
    ('ext4dev', 'time', 'time'),
    ('swap', 'clear', 'clear'),
    ('xfs', 'generate', 'generate'),
    ('xfs', 'NIL', 'nil'),
    ('reiserfs', 'time', 'time'),
    ('lvm', 'random', 'random'),
])
def test_normalize_uuid_passes_keywords_through(fstype, value, keyword):
    assert normalize_uuid(SPECS[fstype], value) == keyword


@pytest.mark.parametrize('fstype, value, fragment', [
    ('ext4', UUID[:-1], 'a UUID such as'),
    ('vfat', UUID, 'a volume ID of 8 hexadecimal digits'),
    ('ext4', '1A2B-3C4D', 'or one of the keywords clear, random, time'),
    ('ext4', 'generate', 'or one of the keywords clear, random, time'),
    ('ext4', 'nil', 'keywords'),
    ('xfs', 'random', 'or one of the keywords generate, nil'),
    ('btrfs', 'random', 'a UUID such as'),
    ('vfat', 'random', 'volume ID'),
    ('f2fs', 'clear', 'a UUID such as'),
    ('lvm', UUID, 'an LVM identifier of 32 characters'),
    ('lvm', 'Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9K0l1Mn', 'LVM identifier'),
    ('lvm', 'clear', 'or one of the keywords random'),
])
def test_normalize_uuid_refuses(fstype, value, fragment):
    with pytest.raises(ValueError) as excinfo:
        normalize_uuid(SPECS[fstype], value)
    assert fragment in str(excinfo.value)


def test_normalize_uuid_without_keywords_names_none():
    with pytest.raises(ValueError) as excinfo:
        normalize_uuid(SPECS['btrfs'], 'nope')
    assert 'keywords' not in str(excinfo.value)


@pytest.mark.parametrize('args, flags, value', [
    (['-L', 'x'], ('-L',), 'x'),
    (['-Lx'], ('-L',), 'x'),
    (['--label=x'], ('-L', '--label'), 'x'),
    (['--label', 'x'], ('-L', '--label'), 'x'),
    (['-L', 'a', '-m', '1', '--label=b'], ('-L', '--label'), 'b'),   # the last one wins, as for the tools
    (['--label=b', '-La'], ('-L', '--label'), 'a'),
    (['-L'], ('-L',), ''),                                            # a flag without its value
    (['--lazy', '-E', 'nodiscard'], ('-L',), None),                  # long options are not short flags
    (['--labelx=y'], ('--label',), None),
    (['-m', 'reflink=1'], ('-m',), None),                            # -m counts only with uuid=
    (['-m', 'crc=1,uuid=%s' % UUID], ('-m',), UUID),
    (['-muuid=%s' % UUID], ('-m',), UUID),
    (['-m', 'uuid=%s' % UUID, '-m', 'reflink=1'], ('-m',), UUID),     # a later -m without uuid= keeps it
    (['-m', 'uuid=a,uuid=b'], ('-m',), 'b'),
    (['-E', 'nodiscard', '--lazy'], ('-L',), None),
    (['-n', 'CONFIG', '--volume-id', '1a2b3c4d'], ('-i', '--volume-id'), '1a2b3c4d'),
    (['-p', 'lock_nolock'], ('-p',), 'lock_nolock'),
    ([], ('-U',), None),
])
def test_opts_value(args, flags, value):
    assert opts_value(args, flags) == value


# -- parsing ----------------------------------------------------------------------------

def test_parse_blkid_export_undoes_escapes():
    text = ('DEVNAME=/srv/disk\\ one.raw\nLABEL=a\\ b\\\'c\\"d\\\\e=f\nUUID=%s\nVERSION=1.0\nBLOCK_SIZE=4096\n'
            'TYPE=ext4\nUSAGE=filesystem\n\nnonsense\n' % UUID)
    fields = parse_blkid_export(text)
    assert fields['LABEL'] == 'a b\'c"d\\e=f'
    assert fields['DEVNAME'] == '/srv/disk one.raw'
    assert fields['TYPE'] == 'ext4' and fields['UUID'] == UUID
    probe = Probe(fields)
    assert probe.holds_only(SPECS['ext4']) and not probe.holds_only(SPECS['ext3']) and not probe.empty
    # ext4 and ext4dev are the same on disk; blkid may report either
    assert probe.holds_only(SPECS['ext4dev'])
    assert probe.describe() == "an ext4 file system labelled 'a b\\'c\"d\\\\e=f'"


def test_probe_descriptions():
    assert Probe().empty and Probe().describe() == 'nothing'
    both = Probe({'TYPE': 'ext4', 'USAGE': 'filesystem', 'PTTYPE': 'dos', 'PTUUID': '78563412'})
    assert not both.holds_only(SPECS['ext4']) and not both.empty
    assert both.describe() == 'an ext4 file system and a dos partition table'
    assert Probe({'TYPE': 'swap', 'USAGE': 'other', 'LABEL': 's'}).describe() == "a swap area labelled 's'"
    assert Probe({'TYPE': 'xfs', 'USAGE': 'filesystem'}).describe() == 'an xfs file system'
    assert Probe({'TYPE': 'btrfs', 'USAGE': 'filesystem'}).describe() == 'a btrfs file system'
    pv = Probe({'TYPE': 'LVM2_member', 'USAGE': 'raid'})
    assert pv.describe() == 'an LVM physical volume' and pv.holds_only(SPECS['lvm'])
    assert Probe({'TYPE': 'gfs2', 'USAGE': 'filesystem', 'LABEL': 'hv:a'}).describe() == "a gfs2 file system labelled 'hv:a'"
    assert Probe({'TYPE': 'ocfs2', 'USAGE': 'filesystem'}).describe() == 'an ocfs2 file system'
    assert Probe({'TYPE': 'crypto_LUKS', 'USAGE': 'crypto'}).describe() == 'a crypto_LUKS signature (usage: crypto)'
    assert Probe({'PTTYPE': 'gpt'}).describe() == 'a gpt partition table'
    ambivalent = Probe(ambivalent=True)
    assert not ambivalent.empty and not ambivalent.holds_only(SPECS['ext4'])
    assert 'cannot tell' in ambivalent.describe()


def test_partition_entry_fields_are_not_signatures():
    # blkid -p on a partition reports where the partition sits; that is not something on it.
    probe = Probe({'PART_ENTRY_SCHEME': 'gpt', 'PART_ENTRY_TYPE': '0fc63daf-8483-4772-8e79-3d69d8477de4'})
    assert probe.empty


def test_parse_signatures():
    text = '''{
   "signatures": [
      {"device": "d.img", "offset": "0x438", "type": "ext4", "usage": "filesystem",
       "uuid": "42e69171-6619-41f4-afda-6fb3cdc5f619", "label": null},
      {"device": "d.img", "offset": "0x1fe", "type": "dos", "usage": "partition-table", "uuid": null, "label": null}
   ]
}'''
    signatures = parse_signatures(text)
    assert [entry['type'] for entry in signatures] == ['ext4', 'dos']
    assert signatures[1] == {'offset': '0x1fe', 'type': 'dos', 'usage': 'partition-table', 'uuid': None, 'label': None}
    assert _mkfs.describe_signatures(signatures) == 'ext4 at offset 0x438, dos at offset 0x1fe'
    assert parse_signatures('{"signatures": [\n\n]}') == [] and parse_signatures('') == []
    with pytest.raises(FsError):
        parse_signatures('wipefs: oops')


# -- the runner --------------------------------------------------------------------------

class Recorder:
    def __init__(self, rc=0, stdout='', stderr=''):
        self.calls = []
        self.rc, self.stdout, self.stderr = rc, stdout, stderr

    def __call__(self, argv, limits):
        self.calls.append(argv)
        return CommandResult(argv, self.rc, self.stdout, self.stderr, 0.0)


@pytest.mark.parametrize('rc, stdout, empty, ambivalent', [
    (2, '', True, False),
    (8, '', False, True),
    (0, 'TYPE=xfs\nUSAGE=filesystem\n', False, False),
])
def test_probe_exit_codes(rc, stdout, empty, ambivalent):
    runner = Recorder(rc, stdout)
    probe = FsTools(runner=runner, which=tool).probe(DEV)
    assert runner.calls == [['/sbin/blkid', '-p', '-c', '/dev/null', '-o', 'export', '--', DEV]]
    assert probe.empty is empty and probe.ambivalent is ambivalent


def test_probe_failure_carries_the_command():
    runner = Recorder(4, '', 'blkid: error: /nope: No such file or directory')
    with pytest.raises(FsError) as excinfo:
        FsTools(runner=runner, which=tool).probe('/nope')
    result = excinfo.value.to_result()
    assert result['rc'] == 4 and result['cmd'][0] == '/sbin/blkid'
    assert 'No such file or directory' in result['msg'] and result['stderr']


def test_tools_are_found_once_and_only_when_used():
    asked = []

    def which(name):
        asked.append(name)
        return '/usr/sbin/' + name

    tools = FsTools(runner=Recorder(2), which=which)
    tools.probe(DEV)
    tools.probe(DEV)
    assert asked == ['blkid']


# -- ext geometry --------------------------------------------------------------------------

DUMPE2FS = '''dumpe2fs 1.47.0 (5-Feb-2023)
Filesystem volume name:   eph0
Filesystem features:      has_journal ext_attr resize_inode dir_index filetype extent 64bit flex_bg sparse_super large_file
Filesystem state:         clean
Block count:              65536
First block:              0
Block size:               4096
Group descriptor size:    64
Reserved GDT blocks:      31
Blocks per group:         32768
Inode blocks per group:   2048
Last mount time:          n/a
Last checked:             Sun Nov 22 00:58:04 2026
'''


def test_parse_dumpe2fs():
    fields = parse_dumpe2fs(DUMPE2FS)
    assert fields['Block count'] == '65536' and fields['Filesystem volume name'] == 'eph0'
    geometry = ExtGeometry(fields)
    assert geometry.size == 65536 * 4096 and geometry.needs_check() is None


@pytest.mark.parametrize('device_size, blocks', [
    (256 * 2 ** 20, 65536),                  # fills the device
    (256 * 2 ** 20 + 4 * 2 ** 20, 65536),    # 1024 blocks in a new group: too few for its inode table, left out
    (256 * 2 ** 20 + 9 * 2 ** 20, 65536 + 2304),  # 2304 blocks: more than its 2050 bookkeeping blocks + 50
    (384 * 2 ** 20, 98304),                  # one whole new group
    (1024 * 2 ** 20 + 5000, 262144),         # a partial block is not used
])
def test_ext_growth_follows_resize2fs(device_size, blocks):
    # figures measured with resize2fs 1.47.0 on image files
    geometry = ExtGeometry(parse_dumpe2fs(DUMPE2FS))
    assert geometry.grown_block_count(device_size) == blocks


def test_ext_growth_of_1k_blocks_rounds_to_pages():
    fields = parse_dumpe2fs(DUMPE2FS)
    fields.update({'Block size': '1024', 'Block count': '102400', 'First block': '1', 'Blocks per group': '8192',
                   'Inode blocks per group': '512', 'Reserved GDT blocks': '256'})
    geometry = ExtGeometry(fields)
    assert geometry.grown_block_count(102401 * 1024) == 102400  # resize2fs: "Nothing to do!"
    assert geometry.grown_block_count(102404 * 1024) == 102404


def test_ext_geometry_needs_check():
    fields = parse_dumpe2fs(DUMPE2FS)
    fields['Last mount time'] = 'Mon Nov 23 10:00:00 2026'
    assert 'mounted' in ExtGeometry(fields).needs_check()
    fields = parse_dumpe2fs(DUMPE2FS)
    fields['Filesystem state'] = 'not clean'
    assert 'not clean' in ExtGeometry(fields).needs_check()


def test_ext_geometry_without_fields_fails_clearly():
    with pytest.raises(FsError):
        ExtGeometry({'Block size': '4096'})


# -- xfs, btrfs, f2fs and lvm sizes -----------------------------------------------------

# Outputs of xfsprogs 6.1.0, btrfs-progs 6.2 and lvm2 2.03, from small loop files:
# a 320 MiB xfs (mkfs.xfs defaults), a 256 MiB btrfs and a 64 MiB physical volume on a loop device grown to 96 MiB.
XFS_DB = '''dblocks = 81920
blocksize = 4096
agblocks = 20480
'''

XFS_INFO = '''meta-data=/dev/loop0             isize=512    agcount=4, agsize=20480 blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=1        finobt=1, sparse=1, rmapbt=0
         =                       reflink=1    bigtime=1 inobtcount=1 nrext64=0
data     =                       bsize=4096   blocks=81920, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=16384, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
'''

BTRFS_SHOW = '''Label: 'data'  uuid: 00b95b0e-cf7c-4861-a09f-d2bce3667237
\tTotal devices 1 FS bytes used 147456
\tdevid    1 size 268435456 used 92274688 path /dev/loop0

'''

PVS = '''  {
      "report": [
          {
              "pv": [
                  {"pv_size":"67108864", "dev_size":"100663296", "pv_uuid":"Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn"}
              ]
          }
      ]
  }
'''


def test_parse_xfs_db():
    geometry = parse_xfs_db(XFS_DB)
    assert (geometry.blocks, geometry.block_size, geometry.ag_blocks) == (81920, 4096, 20480)
    assert geometry.size == 320 * MiB


def test_parse_xfs_info():
    geometry = parse_xfs_info(XFS_INFO)
    # the data section, not the log's or the naming's bsize and blocks
    assert (geometry.blocks, geometry.block_size, geometry.ag_blocks) == (81920, 4096, 20480)
    assert geometry.size == 320 * MiB


@pytest.mark.parametrize('parse, text', [
    (parse_xfs_db, ''),
    (parse_xfs_db, 'dblocks = 81920\nblocksize = 4096\n'),
    (parse_xfs_db, 'dblocks = many\nblocksize = 4096\nagblocks = 1\n'),
    (parse_xfs_db, 'xfs_db: /srv/x is not a valid XFS filesystem (unexpected SB magic number 0x00000000)\n'),
    (parse_xfs_info, 'xfs_info: /mnt is not a mounted XFS filesystem\n'),
    (parse_xfs_info, XFS_INFO.replace('agsize=20480 blks', 'agsize=? blks')),
])
def test_xfs_parsers_fail_clearly(parse, text):
    with pytest.raises(FsError) as excinfo:
        parse(text)
    assert 'did not report the size of the XFS file system' in excinfo.value.msg


@pytest.mark.parametrize('device_size, blocks', [
    (320 * MiB, 81920),                    # fills the device
    (320 * MiB + 4095, 81920),             # a partial block is not used
    (320 * MiB + 63 * 4096, 81920),        # a last allocation group of 63 blocks is dropped
    (320 * MiB + 64 * 4096, 81920 + 64),   # one of 64 blocks is kept
    (320 * MiB + 100 * 4096, 81920 + 100),
    (400 * MiB, 102400),                   # whole allocation groups
    (400 * MiB + 10 * 4096, 102400),
])
def test_xfs_growth_follows_xfs_growfs(device_size, blocks):
    # figures measured with xfs_growfs 6.1.0 on loop-mounted image files
    assert XfsGeometry(81920, 4096, 20480).grown_blocks(device_size) == blocks


def test_parse_btrfs_show():
    assert parse_btrfs_show(BTRFS_SHOW) == [(1, 268435456, '/dev/loop0')]
    two = BTRFS_SHOW + '\tdevid    2 size 536870912 used 0 path /dev/mapper/a b\n'
    assert parse_btrfs_show(two) == [(1, 268435456, '/dev/loop0'), (2, 536870912, '/dev/mapper/a b')]
    assert parse_btrfs_show('') == []


def test_parse_pvs():
    assert parse_pvs(PVS) == {'pv_size': 64 * MiB, 'dev_size': 96 * MiB, 'pv_uuid': LVM_ID}


@pytest.mark.parametrize('text', [
    '', '{"report": []}', '{"report": [{"pv": []}]}', '  Failed to find physical volume "/dev/loop9".\n',
    '{"report": [{"pv": [{"pv_size": "", "dev_size": "1", "pv_uuid": "x"}]}]}',
])
def test_parse_pvs_fails_clearly(text):
    with pytest.raises(FsError) as excinfo:
        parse_pvs(text)
    assert 'pvs did not report the physical volume' in excinfo.value.msg


def find_tool(name):
    return shutil.which(name) or shutil.which(name, path='/usr/sbin:/sbin:/usr/bin')


def make_image(path, size, *argv):
    with open(path, 'wb') as handle:
        handle.truncate(size)
    subprocess.run(list(argv) + [path], check=True, capture_output=True)


def craft_f2fs(path, block_count, log_block_size=12, size=2 * MiB):
    with open(path, 'wb') as handle:
        handle.truncate(size)
        handle.seek(_mkfs.F2FS_SUPER_OFFSET)
        handle.write(struct.pack('<I', _mkfs.F2FS_MAGIC))
        handle.seek(_mkfs.F2FS_SUPER_OFFSET + 16)
        handle.write(struct.pack('<I', log_block_size))
        handle.seek(_mkfs.F2FS_SUPER_OFFSET + 36)
        handle.write(struct.pack('<Q', block_count))


def craft_btrfs(path, devid, total, sector_size=4096, size=2 * MiB):
    with open(path, 'wb') as handle:
        handle.truncate(size)
        handle.seek(_mkfs.BTRFS_SUPER_OFFSET + 0x40)
        handle.write(_mkfs.BTRFS_MAGIC)
        handle.seek(_mkfs.BTRFS_SUPER_OFFSET + 0x90)
        handle.write(struct.pack('<I', sector_size))
        handle.seek(_mkfs.BTRFS_SUPER_OFFSET + 0xc9)
        handle.write(struct.pack('<QQ', devid, total))


@pytest.mark.skipif(not find_tool('mkfs.f2fs'), reason='mkfs.f2fs (f2fs-tools) is not installed')
def test_read_f2fs_size_of_a_real_file_system(tmp_path):
    path = str(tmp_path / 'f2fs.raw')
    make_image(path, 64 * MiB + 3 * 4096, find_tool('mkfs.f2fs'), '-q')
    assert read_f2fs_size(path) == 64 * MiB + 3 * 4096


@pytest.mark.parametrize('block_count, log_block_size, size', [(16384, 12, 64 * MiB), (3, 12, 12288), (5, 13, 40960)])
def test_read_f2fs_size_of_a_crafted_superblock(tmp_path, block_count, log_block_size, size):
    path = str(tmp_path / 'f2fs.raw')
    craft_f2fs(path, block_count, log_block_size)
    assert read_f2fs_size(path) == size


@pytest.mark.skipif(not find_tool('mkfs.btrfs'), reason='mkfs.btrfs (btrfs-progs) is not installed')
def test_read_btrfs_device_of_a_real_file_system(tmp_path):
    path = str(tmp_path / 'btrfs.raw')
    make_image(path, 128 * MiB + 4096, find_tool('mkfs.btrfs'), '-q')
    devid, total, sector_size = read_btrfs_device(path)
    assert devid == 1 and sector_size in (4096, os.sysconf('SC_PAGE_SIZE'))
    assert total == 128 * MiB + 4096 - (128 * MiB + 4096) % sector_size


def test_read_btrfs_device_of_a_crafted_superblock(tmp_path):
    path = str(tmp_path / 'btrfs.raw')
    craft_btrfs(path, 3, 300 * MiB, 4096)
    assert read_btrfs_device(path) == (3, 300 * MiB, 4096)


@pytest.mark.parametrize('content', [b'', b'\0' * 1100, b'\0' * (4 * MiB)])
def test_readers_find_nothing_in_other_data(tmp_path, content):
    path = tmp_path / 'data'
    path.write_bytes(content)
    assert read_f2fs_size(str(path)) is None
    assert read_btrfs_device(str(path)) is None


def test_readers_do_not_mistake_one_type_for_the_other(tmp_path):
    f2fs, btrfs = str(tmp_path / 'f2fs'), str(tmp_path / 'btrfs')
    craft_f2fs(f2fs, 16384, size=MiB)
    craft_btrfs(btrfs, 1, MiB, size=MiB)
    assert read_btrfs_device(f2fs) is None and read_f2fs_size(btrfs) is None


class Scripted:
    """A runner that answers each tool (by its base name) with a fixed output."""

    def __init__(self, outputs):
        self.calls = []
        self.outputs = outputs

    def __call__(self, argv, limits):
        self.calls.append(argv)
        return CommandResult(argv, 0, self.outputs[os.path.basename(argv[0])], '', 0.0)


def test_xfs_geometry_reads_a_mounted_file_system_with_xfs_info():
    runner = Scripted({'xfs_info': XFS_INFO.replace('blocks=81920,', 'blocks=102400,'), 'xfs_db': XFS_DB})
    tools = FsTools(runner=runner, which=tool)
    assert tools.xfs_geometry(DEV, '/mnt/x').blocks == 102400
    assert tools.xfs_geometry(DEV).blocks == 81920
    assert runner.calls == [['/sbin/xfs_info', '/mnt/x'],
                            ['/sbin/xfs_db', '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', DEV]]


def test_btrfs_devices_and_pv():
    runner = Scripted({'btrfs': BTRFS_SHOW, 'pvs': PVS})
    tools = FsTools(runner=runner, which=tool)
    assert tools.btrfs_devices('/mnt/b') == [(1, 268435456, '/dev/loop0')]
    assert tools.pv('/dev/loop0')['dev_size'] == 96 * MiB
    assert runner.calls == [
        ['/sbin/btrfs', 'filesystem', 'show', '--raw', '/mnt/b'],
        ['/sbin/pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--',
         '/dev/loop0']]


# -- swap header ---------------------------------------------------------------------------

def make_swap(path, pages, page_size=4096, order='<'):
    with open(path, 'wb') as handle:
        handle.truncate(pages * page_size)
        handle.seek(1024)
        handle.write(struct.pack(order + 'III', 1, pages - 1, 0))
        handle.seek(page_size - 10)
        handle.write(b'SWAPSPACE2')


@pytest.mark.parametrize('page_size, order', [(4096, '<'), (65536, '>')])
def test_read_swap_header(tmp_path, page_size, order):
    path = str(tmp_path / 'swap')
    make_swap(path, 16, page_size, order)
    header = _mkfs.read_swap_header(path)
    assert header.page_size == page_size and header.last_page == 15 and header.size == 16 * page_size


def test_read_swap_header_of_other_data(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'\0' * 8192)
    assert _mkfs.read_swap_header(str(path)) is None


# -- users ---------------------------------------------------------------------------------

def test_mount_points_of(tmp_path):
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text(
        '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n'
        '43 22 7:0 / /mnt/eph\\040zero rw,relatime - ext4 /dev/loop0 rw\n'
        '44 22 0:45 / /mnt/btr rw - btrfs /dev/nonexistent-loop rw\n')
    assert _mkfs.mount_points_of([os.makedev(7, 0)], str(mountinfo)) == ['/mnt/eph zero']
    assert _mkfs.mount_points_of([os.makedev(7, 1)], str(mountinfo)) == []
    assert _mkfs.mount_points_of([os.makedev(7, 0)], str(tmp_path / 'missing')) == []


def test_mount_points_of_matches_a_btrfs_source_by_its_device(tmp_path, monkeypatch):
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('44 22 0:45 / /mnt/btr rw - btrfs /dev/loop3 rw\n')
    monkeypatch.setattr(_mkfs, '_rdev_of', lambda path: os.makedev(7, 3) if path == '/dev/loop3' else None)
    assert _mkfs.mount_points_of([os.makedev(7, 3)], str(mountinfo)) == ['/mnt/btr']


def test_active_swaps(tmp_path):
    swaps = tmp_path / 'swaps'
    swaps.write_text('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
                     '/dev/dm-1                               partition\t1003516\t\t0\t\t-2\n'
                     '/var/lib/swap\\040file                   file\t\t65532\t\t0\t\t-3\n')
    assert _mkfs.active_swaps(str(swaps)) == ['/dev/dm-1', '/var/lib/swap file']
    assert _mkfs.active_swaps(str(tmp_path / 'missing')) == []


def test_partitions_and_holders_from_sysfs(tmp_path):
    disk = tmp_path / '7:0'
    (disk / 'loop0p1').mkdir(parents=True)
    (disk / 'loop0p1' / 'partition').write_text('1\n')
    (disk / 'loop0p1' / 'dev').write_text('259:0\n')
    (disk / 'queue').mkdir()
    (disk / 'holders' / 'dm-2').mkdir(parents=True)
    assert _mkfs.partitions_of(os.makedev(7, 0), str(tmp_path)) == [os.makedev(259, 0)]
    assert _mkfs.holders_of(os.makedev(7, 0), str(tmp_path)) == ['dm-2']
    assert _mkfs.partitions_of(os.makedev(7, 1), str(tmp_path)) == []
    assert _mkfs.holders_of(os.makedev(7, 1), str(tmp_path)) == []


def test_file_users_names_a_mounted_loop_device(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    runner = Recorder(0, '/dev/loop5\n')
    tools = FsTools(runner=runner, which=tool, swaps=str(tmp_path / 'no-swaps'))
    monkeypatch.setattr(FsTools, 'block_device_usage',
                        lambda self, path, online=False: (['/mnt/x'], []) if path == '/dev/loop5' else ([], []))
    assert tools.file_users(str(image)) == ['attached to /dev/loop5, which is mounted on /mnt/x']
    assert runner.calls == [['/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated',
                             str(image)]]


def test_file_usage_keeps_mounts_apart_and_passes_online_on(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    tools = FsTools(runner=Recorder(0, '/dev/loop5\n/dev/loop6\n'), which=tool, swaps=str(tmp_path / 'no-swaps'))
    asked = []

    def usage(self, path, online=False):
        asked.append((path, online))
        return (['/mnt/x'], []) if path == '/dev/loop5' else ([], ['held by dm-1'])

    monkeypatch.setattr(FsTools, 'block_device_usage', usage)
    assert tools.file_usage(str(image), online=True) == (
        [('/dev/loop5', '/mnt/x')], ['attached to /dev/loop6, which is held by dm-1'])
    assert asked == [('/dev/loop5', True), ('/dev/loop6', True)]
    assert tools.file_users(str(image)) == ['attached to /dev/loop5, which is mounted on /mnt/x',
                                            'attached to /dev/loop6, which is held by dm-1']
    assert asked[2:] == [('/dev/loop5', False), ('/dev/loop6', False)]


def fake_block_device(tmp_path, path):
    """sysfs and mountinfo for ``path``: a regular file stands for a device numbered by its st_rdev (0:0)."""
    rdev = os.stat(path).st_rdev
    node = tmp_path / 'sys' / ('%d:%d' % (os.major(rdev), os.minor(rdev)))
    (node / 'holders' / 'dm-3').mkdir(parents=True)
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('43 22 %d:%d / /mnt/pv\\040data rw - xfs /dev/dm-3 rw\n' % (os.major(rdev), os.minor(rdev)))
    return FsTools(runner=Recorder(), which=tool, mountinfo=str(mountinfo), swaps=str(tmp_path / 'no-swaps'),
                   sys_dev_block=str(tmp_path / 'sys'))


def test_block_device_usage_online_ignores_holders(tmp_path):
    path = tmp_path / 'dev'
    path.write_bytes(b'')
    tools = fake_block_device(tmp_path, str(path))
    assert tools.block_device_usage(str(path)) == (['/mnt/pv data'], ['held by dm-3'])
    assert tools.block_device_usage(str(path), online=True) == (['/mnt/pv data'], [])
    assert tools.block_device_users(str(path)) == ['mounted on /mnt/pv data', 'held by dm-3']


def test_file_users_names_an_active_swap_file(tmp_path):
    image = tmp_path / 'swap file'
    image.write_bytes(b'')
    swaps = tmp_path / 'swaps'
    swaps.write_text('Filename Type Size Used Priority\n%s file 4 0 -2\n' % str(image).replace(' ', '\\040'))
    tools = FsTools(runner=Recorder(0, ''), which=tool, swaps=str(swaps))
    assert tools.file_users(str(image)) == ['an active swap file']


def test_device_size_of_a_file(tmp_path):
    path = tmp_path / 'f'
    with open(str(path), 'wb') as handle:
        handle.truncate(12345)
    assert _mkfs.device_size(str(path)) == 12345


@pytest.mark.parametrize('stderr, summary', [
    ('Filesystem must be larger than 300MB.\nUsage: mkfs.xfs\n/* blocksize */\t\t[-b size=num]\n',
     'Filesystem must be larger than 300MB.'),
    ('mke2fs 1.47.0 (5-Feb-2023)\nmkfs.ext4: Device size reported to be zero.\n', 'mkfs.ext4: Device size reported to be zero.'),
    ('', 'no error message'),
])
def test_error_summary(stderr, summary):
    assert _mkfs._last_line(stderr) == summary


def test_qemu_lock_held(tmp_path):
    path = str(tmp_path / 'disk.raw')
    with open(path, 'wb') as handle:
        handle.truncate(MiB)
    assert _mkfs.qemu_lock_held(path) is False
    # qemu holds shared locks on its lock bytes through its own open file description
    fd = os.open(path, os.O_RDWR)
    try:
        lock = struct.pack('hhqqi4x', fcntl.F_RDLCK, os.SEEK_SET, 101, 1, 0)
        fcntl.fcntl(fd, getattr(fcntl, 'F_OFD_SETLK', 37), lock)
        assert _mkfs.qemu_lock_held(path) is True
    finally:
        os.close(fd)
    assert _mkfs.qemu_lock_held(path) is False


def test_file_users_names_a_qemu_process(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    monkeypatch.setattr(_mkfs, 'qemu_lock_held', lambda path: True)
    tools = FsTools(runner=Recorder(0, ''), which=tool, swaps=str(tmp_path / 'no-swaps'))
    assert tools.file_users(str(image)) == [_mkfs.QEMU_USER]
