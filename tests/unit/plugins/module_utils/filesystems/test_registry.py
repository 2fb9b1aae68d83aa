# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What holds for every file system type: the list, the keywords, the packages, and labels no tool misreads."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.probe import Probe
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import (
    FSTYPES,
    TYPES,
    fstype_of,
    growing_types,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import Tools
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)

PACKAGES = {'ext2': 'e2fsprogs', 'ext3': 'e2fsprogs', 'ext4': 'e2fsprogs', 'ext4dev': 'e2fsprogs',
            'xfs': 'xfsprogs', 'btrfs': 'btrfs-progs', 'vfat': 'dosfstools', 'swap': 'util-linux',
            'f2fs': 'f2fs-tools', 'reiserfs': 'reiserfsprogs', 'ocfs2': 'ocfs2-tools', 'gfs2': 'gfs2-utils',
            'lvm': 'lvm2'}


def test_the_fstypes_of_community_general_filesystem():
    assert FSTYPES == ('ext2', 'ext3', 'ext4', 'ext4dev', 'xfs', 'btrfs', 'vfat', 'swap', 'f2fs', 'reiserfs', 'ocfs2',
                       'gfs2', 'lvm')
    assert all(TYPES[name].name == name for name in FSTYPES)
    assert TYPES['ext4dev'].mkfs_tool == 'mkfs.ext4' and TYPES['lvm'].mkfs_tool == 'pvcreate'
    assert TYPES['ext4'].blkid_types == ('ext4', 'ext4dev') and TYPES['lvm'].blkid_types == ('LVM2_member',)
    assert TYPES['xfs'].blkid_types == ('xfs',)
    assert TYPES['lvm'].regular_file is False and TYPES['lvm'].what == 'physical volume'
    assert TYPES['swap'].what == 'area'
    assert [name for name in FSTYPES if TYPES[name].grows] == [
        'ext2', 'ext3', 'ext4', 'ext4dev', 'xfs', 'btrfs', 'swap', 'f2fs', 'lvm']
    assert growing_types() == 'ext2, ext3, ext4, ext4dev, xfs, btrfs, swap, f2fs and lvm'


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
    assert TYPES[fstype].keywords == keywords


@pytest.mark.parametrize('fstype', FSTYPES)
def test_mkfs_argv_adds_no_force_flag_but_for_ocfs2(fstype):
    fs = TYPES[fstype]
    argv = mkfs_argv(fstype, label='x' if fs.label_flags else None, regular_file=True)
    forced = set(argv) & {'-F', '-f', '--force', '-ff', '-y', '--yes'}
    # mkfs.ocfs2 gets -F as community.general.filesystem gives it (with -x): the module has decided already
    assert forced == ({'-F'} if fstype == 'ocfs2' else set()), fstype
    assert argv[-1] == DEV and ('--' in argv) is (fstype != 'gfs2')


@pytest.mark.parametrize('fstype', FSTYPES)
def test_every_tool_is_looked_up_with_its_package(fstype):
    asked = []
    tools = Tools(which=lambda name, package: asked.append((name, package)) or '/sbin/' + name)
    fs = TYPES[fstype]
    fs.mkfs_argv(tools, DEV)
    for label, uuid in (('new', None), (None, 'random' if 'random' in fs.keywords else UUID)):
        try:
            fs.relabel_argvs(tools, DEV, label=label, uuid=uuid, probe=Probe({'TYPE': fstype}))
        except ValueError:
            pass  # nothing changes it in place
    assert asked and set(package for dummy, package in asked) == {PACKAGES[fstype]}


def after_dashdash_or_flag(argv, value):
    """Whether ``value`` is in ``argv`` where no option parser reads it as an option."""
    index = max(position for position, arg in enumerate(argv) if arg == value)
    return '--' in argv[:index] or argv[index - 1].startswith('-') or argv[index - 1] == 'label %s' % value


@pytest.mark.parametrize('fstype', [name for name in FSTYPES if TYPES[name].label_flags])
@pytest.mark.parametrize('label', ['-x', '--'])
def test_a_label_that_looks_like_an_option_is_passed_as_a_label_or_refused(fstype, label):
    # Checked with the tools of Debian bookworm: each takes these as labels, but xfs_db, which reads -- as no label.
    if fstype == 'gfs2':
        label = label + ':fs'
    fs = TYPES[fstype]
    problem = fs.label_problem(label)
    if problem is not None:
        assert (fstype, label) == ('xfs', '--') and 'remove the label' in problem
        return
    assert after_dashdash_or_flag(mkfs_argv(fstype, label=label), label)
    for argv in relabel_argvs(fstype, label=label, probe=Probe({'TYPE': fstype})):
        if fstype == 'xfs':
            assert argv[argv.index('label %s' % label) - 1] == '-c'
        else:
            assert after_dashdash_or_flag(argv, label), argv


def test_fstype_of():
    assert fstype_of('ext4', TYPES['ext4dev']) == 'ext4dev'
    assert fstype_of('ext4') == 'ext4' and fstype_of('LVM2_member') == 'lvm'
    assert fstype_of('crypto_LUKS', TYPES['ext4']) == 'crypto_LUKS' and fstype_of(None) is None
