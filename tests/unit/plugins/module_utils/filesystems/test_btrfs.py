# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""btrfs: mkfs.btrfs, btrfs and btrfstune command lines, its superblock and its growth."""

from __future__ import annotations

import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.btrfs import (
    btrfs_grow_argv,
    btrfs_show_argv,
    parse_btrfs_show,
    read_btrfs_device,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    MiB,
    UUID,
    craft_btrfs,
    installed,
    make_image,
    mkfs_argv,
    relabel_argvs,
    tools,
)

BTRFS = TYPES['btrfs']
# btrfs-progs 6.2 on a 256 MiB btrfs in a loop file
BTRFS_SHOW = '''Label: 'data'  uuid: 00b95b0e-cf7c-4861-a09f-d2bce3667237
\tTotal devices 1 FS bytes used 147456
\tdevid    1 size 268435456 used 92274688 path /dev/loop0

'''


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.btrfs', '--', DEV]),
    ({'label': 'data', 'uuid': UUID, 'opts': ['--mixed']},
     ['/sbin/mkfs.btrfs', '-L', 'data', '-U', UUID, '--mixed', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('btrfs', **kwargs) == argv


@pytest.mark.parametrize('label, uuid, argvs', [
    ('new label', None, [['/sbin/btrfs', 'filesystem', 'label', '--', DEV, 'new label']]),
    # btrfstune rewrites every metadata block; -f skips its question
    (None, UUID, [['/sbin/btrfstune', '-f', '-U', UUID, '--', DEV]]),
    ('new', UUID, [['/sbin/btrfs', 'filesystem', 'label', '--', DEV, 'new'],
                   ['/sbin/btrfstune', '-f', '-U', UUID, '--', DEV]]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('btrfs', label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('label, problem', [('x' * 256, 'at most 255'), ('a b' * 80, None), ('--', None)])
def test_labels(label, problem):
    found = BTRFS.label_problem(label)
    assert found is None if problem is None else problem in found


@pytest.mark.parametrize('value, fragment', [('random', 'a UUID such as'), ('clear', 'a UUID such as')])
def test_normalize_uuid_refuses(value, fragment):
    with pytest.raises(ValueError) as excinfo:
        BTRFS.normalize_uuid(value)
    assert fragment in str(excinfo.value)


def test_normalize_uuid_without_keywords_names_none():
    assert BTRFS.normalize_uuid(UUID) == UUID
    with pytest.raises(ValueError) as excinfo:
        BTRFS.normalize_uuid('nope')
    assert 'keywords' not in str(excinfo.value)


def test_size_and_growth_argv():
    assert btrfs_show_argv('/sbin/btrfs', '/mnt/b') == ['/sbin/btrfs', 'filesystem', 'show', '--raw', '/mnt/b']
    assert btrfs_grow_argv('/sbin/btrfs', 2, '/mnt/b') == ['/sbin/btrfs', 'filesystem', 'resize', '2:max', '/mnt/b']


def test_parse_btrfs_show():
    assert parse_btrfs_show(BTRFS_SHOW) == [(1, 268435456, '/dev/loop0')]
    two = BTRFS_SHOW + '\tdevid    2 size 536870912 used 0 path /dev/mapper/a b\n'
    assert parse_btrfs_show(two) == [(1, 268435456, '/dev/loop0'), (2, 536870912, '/dev/mapper/a b')]
    assert parse_btrfs_show('') == []


@pytest.mark.skipif(not installed('mkfs.btrfs'), reason='mkfs.btrfs (btrfs-progs) is not installed')
def test_read_btrfs_device_of_a_real_file_system(tmp_path):
    path = str(tmp_path / 'btrfs.raw')
    make_image(path, 128 * MiB + 4096, installed('mkfs.btrfs'), '-q')
    geometry = read_btrfs_device(path)
    assert geometry.devid == 1 and geometry.sector_size in (4096, os.sysconf('SC_PAGE_SIZE'))
    assert geometry.size == 128 * MiB + 4096 - (128 * MiB + 4096) % geometry.sector_size


def test_read_btrfs_device_of_a_crafted_superblock(tmp_path):
    path = str(tmp_path / 'btrfs.raw')
    craft_btrfs(path, 3, 300 * MiB, 4096)
    geometry = read_btrfs_device(path)
    assert (geometry.devid, geometry.size, geometry.sector_size) == (3, 300 * MiB, 4096)
    assert geometry.grown_size(400 * MiB + 100) == 400 * MiB


def test_read_geometry_of_a_mounted_btrfs_asks_btrfs(tmp_path):
    path = str(tmp_path / 'btrfs.raw')
    craft_btrfs(path, 1, 200 * MiB)
    runner = FakeRunner(outputs={'btrfs': BTRFS_SHOW})
    assert BTRFS.read_geometry(tools(runner), path, lambda: []).size == 200 * MiB
    geometry = BTRFS.read_geometry(tools(runner), path, lambda: [('/dev/loop0', '/mnt/b')])
    assert geometry.size == 268435456
    assert runner.calls == [['/sbin/btrfs', 'filesystem', 'show', '--raw', '/mnt/b']]
    assert BTRFS.grow_argv(tools(), path, '/dev/loop0', '/mnt/b', geometry, None) == [
        '/sbin/btrfs', 'filesystem', 'resize', '1:max', '/mnt/b']
    assert 'btrfs filesystem resize grows only while mounted' in BTRFS.unmounted_grow_problem(path, 1, 2)


def test_read_geometry_without_a_superblock_fails_clearly(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'\0' * MiB)
    with pytest.raises(FsError) as excinfo:
        BTRFS.read_geometry(tools(), str(path), lambda: [])
    assert 'no btrfs superblock this module can read' in excinfo.value.msg
