# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ext2, ext3, ext4 and ext4dev: mke2fs and tune2fs command lines, the superblock and resize2fs's growth."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.ext import (
    ExtGeometry,
    ext_info_argv,
    parse_dumpe2fs,
    resize_ext_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)


@pytest.mark.parametrize('fstype, kwargs, argv', [
    ('ext4', {}, ['/sbin/mkfs.ext4', '--', DEV]),
    ('ext4', {'regular_file': True}, ['/sbin/mkfs.ext4', '-E', 'nodiscard', '--', DEV]),
    ('ext2', {'label': 'eph0', 'regular_file': True},
     ['/sbin/mkfs.ext2', '-E', 'nodiscard', '-L', 'eph0', '--', DEV]),
    ('ext3', {'label': 'eph0', 'uuid': UUID},
     ['/sbin/mkfs.ext3', '-L', 'eph0', '-U', UUID, '--', DEV]),
    ('ext4', {'label': 'eph0', 'uuid': UUID, 'opts': ['-m', '1', '-E', 'lazy_itable_init=0'], 'regular_file': True},
     ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0', '-U', UUID, '-m', '1', '-E', 'lazy_itable_init=0', '--', DEV]),
    # ext4dev is made by mkfs.ext4, with the options of ext4
    ('ext4dev', {'label': 'eph0', 'uuid': UUID, 'regular_file': True},
     ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0', '-U', UUID, '--', DEV]),
    # the keywords mkfs takes itself
    ('ext4', {'uuid': 'random'}, ['/sbin/mkfs.ext4', '-U', 'random', '--', DEV]),
    ('ext3', {'uuid': 'time'}, ['/sbin/mkfs.ext3', '-U', 'time', '--', DEV]),
])
def test_mkfs_argv(fstype, kwargs, argv):
    assert mkfs_argv(fstype, **kwargs) == argv


@pytest.mark.parametrize('uuid, takes', [(UUID, True), ('random', True), ('clear', True)])
def test_mkfs_takes_uuid(uuid, takes):
    assert TYPES['ext4'].mkfs_takes_uuid(uuid) is takes


@pytest.mark.parametrize('fstype, label, uuid, argvs', [
    ('ext4', 'new', None, [['/sbin/tune2fs', '-L', 'new', '--', DEV]]),
    ('ext2', None, UUID, [['/sbin/tune2fs', '-U', UUID, '--', DEV]]),
    ('ext3', 'new', UUID, [['/sbin/tune2fs', '-L', 'new', '-U', UUID, '--', DEV]]),
    ('ext4dev', 'new', 'random', [['/sbin/tune2fs', '-L', 'new', '-U', 'random', '--', DEV]]),
    ('ext4', None, 'clear', [['/sbin/tune2fs', '-U', 'clear', '--', DEV]]),
])
def test_relabel_argvs(fstype, label, uuid, argvs):
    assert relabel_argvs(fstype, label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('fstype, label, fragment', [
    ('ext4', '', 'empty'),
    ('ext4', 'x' * 17, 'at most 16'),
    ('ext4', 'caf\u00e9', 'printable ASCII'),
    ('ext4', 'a\tb', 'printable ASCII'),
    ('ext4dev', 'x' * 17, 'at most 16'),
])
def test_label_problems(fstype, label, fragment):
    assert fragment in TYPES[fstype].label_problem(label)


@pytest.mark.parametrize('label', ['x' * 16, "it's", '-x', '--'])
def test_good_labels(label):
    # tune2fs and mke2fs take the label as the argument of -L, so "-x" and "--" are labels too
    assert TYPES['ext4'].label_problem(label) is None


@pytest.mark.parametrize('fstype, value, normal', [
    ('ext4', UUID.upper(), UUID),
    ('ext4', 'random', 'random'),
    ('ext4', ' Random ', 'random'),
    ('ext2', 'CLEAR', 'clear'),
    ('ext4dev', 'time', 'time'),
])
def test_normalize_uuid(fstype, value, normal):
    assert TYPES[fstype].normalize_uuid(value) == normal


@pytest.mark.parametrize('value, fragment', [
    (UUID[:-1], 'a UUID such as'),
    ('1A2B-3C4D', 'or one of the keywords clear, random, time'),
    ('generate', 'or one of the keywords clear, random, time'),
    ('nil', 'keywords'),
])
def test_normalize_uuid_refuses(value, fragment):
    with pytest.raises(ValueError) as excinfo:
        TYPES['ext4'].normalize_uuid(value)
    assert fragment in str(excinfo.value)


def test_size_and_growth_argv():
    assert ext_info_argv('/sbin/dumpe2fs', DEV) == ['/sbin/dumpe2fs', '-h', '--', DEV]
    assert resize_ext_argv('/sbin/resize2fs', DEV) == ['/sbin/resize2fs', '--', DEV]


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
