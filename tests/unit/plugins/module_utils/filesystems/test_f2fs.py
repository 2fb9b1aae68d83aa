# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""f2fs: mkfs.f2fs, f2fslabel and resize.f2fs command lines, and its superblock."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.btrfs import read_btrfs_device
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.f2fs import (
    f2fs_grow_argv,
    read_f2fs_superblock,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    MiB,
    UUID,
    craft_btrfs,
    craft_f2fs,
    installed,
    make_image,
    mkfs_argv,
    relabel_argvs,
)

F2FS = TYPES['f2fs']


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.f2fs', '--', DEV]),
    ({'label': 'data', 'uuid': UUID, 'opts': ['-O', 'extra_attr'], 'regular_file': True},
     ['/sbin/mkfs.f2fs', '-l', 'data', '-U', UUID, '-O', 'extra_attr', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('f2fs', **kwargs) == argv


def test_relabel_argvs():
    assert relabel_argvs('f2fs', label='data') == [['/sbin/f2fslabel', '--', DEV, 'data']]


def test_relabel_argvs_refuses_a_uuid():
    with pytest.raises(ValueError) as excinfo:
        relabel_argvs('f2fs', uuid=UUID)
    assert 'UUID of an existing f2fs file system cannot be changed' in str(excinfo.value)


def test_labels_and_uuids():
    assert 'at most 512' in F2FS.label_problem('x' * 513)
    assert F2FS.label_problem('x' * 512) is None
    assert F2FS.normalize_uuid(UUID.upper()) == UUID
    with pytest.raises(ValueError) as excinfo:
        F2FS.normalize_uuid('clear')
    assert 'a UUID such as' in str(excinfo.value)


def test_grows_only_unmounted():
    assert f2fs_grow_argv('/sbin/resize.f2fs', DEV) == ['/sbin/resize.f2fs', '--', DEV]
    assert 'resize.f2fs grows it only while unmounted' in F2FS.mounted_grow_problem(DEV, '/mnt/f')
    assert F2FS.unmounted_grow_problem(DEV, 1, 2) is None and not F2FS.grows_online


def size_of(path):
    geometry = read_f2fs_superblock(path)
    return geometry.size if geometry is not None else None


@pytest.mark.skipif(not installed('mkfs.f2fs'), reason='mkfs.f2fs (f2fs-tools) is not installed')
def test_read_f2fs_size_of_a_real_file_system(tmp_path):
    path = str(tmp_path / 'f2fs.raw')
    make_image(path, 64 * MiB + 3 * 4096, installed('mkfs.f2fs'), '-q')
    assert size_of(path) == 64 * MiB + 3 * 4096


@pytest.mark.parametrize('block_count, log_block_size, size', [(16384, 12, 64 * MiB), (3, 12, 12288), (5, 13, 40960)])
def test_read_f2fs_size_of_a_crafted_superblock(tmp_path, block_count, log_block_size, size):
    path = str(tmp_path / 'f2fs.raw')
    craft_f2fs(path, block_count, log_block_size)
    assert size_of(path) == size


@pytest.mark.parametrize('content', [b'', b'\0' * 1100, b'\0' * (4 * MiB)])
def test_readers_find_nothing_in_other_data(tmp_path, content):
    path = tmp_path / 'data'
    path.write_bytes(content)
    assert size_of(str(path)) is None
    assert read_btrfs_device(str(path)) is None


def test_readers_do_not_mistake_one_type_for_the_other(tmp_path):
    f2fs, btrfs = str(tmp_path / 'f2fs'), str(tmp_path / 'btrfs')
    craft_f2fs(f2fs, 16384, size=MiB)
    craft_btrfs(btrfs, 1, MiB, size=MiB)
    assert read_btrfs_device(f2fs) is None and size_of(btrfs) is None
