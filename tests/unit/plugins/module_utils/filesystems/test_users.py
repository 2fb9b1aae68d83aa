# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who uses a device: mountinfo, /proc/swaps, sysfs, loop devices and qemu's image locks."""

from __future__ import annotations

import os

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems import users as users_module
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.users import (
    QEMU_USER,
    Users,
    loop_devices_argv,
    set_capacity_argv,
)
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    tools,
)


def test_losetup_argv():
    assert loop_devices_argv('/sbin/losetup', DEV) == [
        '/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated', DEV]
    assert set_capacity_argv('/sbin/losetup', '/dev/loop3') == ['/sbin/losetup', '--set-capacity', '/dev/loop3']
    assert Users(tools()).set_capacity_argv('/dev/loop3') == ['/sbin/losetup', '--set-capacity', '/dev/loop3']


def test_mount_points_of(tmp_path):
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text(
        '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n'
        '43 22 7:0 / /mnt/eph\\040zero rw,relatime - ext4 /dev/loop0 rw\n'
        '44 22 0:45 / /mnt/btr rw - btrfs /dev/nonexistent-loop rw\n')
    assert users_module.mount_points_of([os.makedev(7, 0)], str(mountinfo)) == ['/mnt/eph zero']
    assert users_module.mount_points_of([os.makedev(7, 1)], str(mountinfo)) == []
    assert users_module.mount_points_of([os.makedev(7, 0)], str(tmp_path / 'missing')) == []


def test_mount_points_of_matches_a_btrfs_source_by_its_device(tmp_path, monkeypatch):
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('44 22 0:45 / /mnt/btr rw - btrfs /dev/loop3 rw\n')
    monkeypatch.setattr(users_module, 'rdev_of', lambda path: os.makedev(7, 3) if path == '/dev/loop3' else None)
    assert users_module.mount_points_of([os.makedev(7, 3)], str(mountinfo)) == ['/mnt/btr']


def test_active_swaps(tmp_path):
    swaps = tmp_path / 'swaps'
    swaps.write_text('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
                     '/dev/dm-1                               partition\t1003516\t\t0\t\t-2\n'
                     '/var/lib/swap\\040file                   file\t\t65532\t\t0\t\t-3\n')
    assert users_module.active_swaps(str(swaps)) == ['/dev/dm-1', '/var/lib/swap file']
    assert users_module.active_swaps(str(tmp_path / 'missing')) == []


def test_partitions_and_holders_from_sysfs(tmp_path):
    disk = tmp_path / '7:0'
    (disk / 'loop0p1').mkdir(parents=True)
    (disk / 'loop0p1' / 'partition').write_text('1\n')
    (disk / 'loop0p1' / 'dev').write_text('259:0\n')
    (disk / 'queue').mkdir()
    (disk / 'holders' / 'dm-2').mkdir(parents=True)
    assert users_module.partitions_of(os.makedev(7, 0), str(tmp_path)) == [os.makedev(259, 0)]
    assert users_module.holders_of(os.makedev(7, 0), str(tmp_path)) == ['dm-2']
    assert users_module.partitions_of(os.makedev(7, 1), str(tmp_path)) == []
    assert users_module.holders_of(os.makedev(7, 1), str(tmp_path)) == []


def test_file_users_names_a_mounted_loop_device(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    runner = FakeRunner(stdout='/dev/loop5\n')
    users = Users(tools(runner), swaps=str(tmp_path / 'no-swaps'))
    monkeypatch.setattr(Users, 'block_device_usage',
                        lambda self, path, online=False: (['/mnt/x'], []) if path == '/dev/loop5' else ([], []))
    assert users.file_users(str(image)) == ['attached to /dev/loop5, which is mounted on /mnt/x']
    assert runner.calls == [['/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated',
                             str(image)]]


def test_file_usage_keeps_mounts_apart_and_passes_online_on(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    users = Users(tools(FakeRunner(stdout='/dev/loop5\n/dev/loop6\n')), swaps=str(tmp_path / 'no-swaps'))
    asked = []

    def usage(self, path, online=False):
        asked.append((path, online))
        return (['/mnt/x'], []) if path == '/dev/loop5' else ([], ['held by dm-1'])

    monkeypatch.setattr(Users, 'block_device_usage', usage)
    assert users.file_usage(str(image), online=True) == (
        [('/dev/loop5', '/mnt/x')], ['attached to /dev/loop6, which is held by dm-1'])
    assert asked == [('/dev/loop5', True), ('/dev/loop6', True)]
    assert users.file_users(str(image)) == ['attached to /dev/loop5, which is mounted on /mnt/x',
                                            'attached to /dev/loop6, which is held by dm-1']
    assert asked[2:] == [('/dev/loop5', False), ('/dev/loop6', False)]


def fake_block_device(tmp_path, path):
    """sysfs and mountinfo for ``path``: a regular file stands for a device numbered by its st_rdev (0:0)."""
    rdev = os.stat(path).st_rdev
    node = tmp_path / 'sys' / ('%d:%d' % (os.major(rdev), os.minor(rdev)))
    (node / 'holders' / 'dm-3').mkdir(parents=True)
    mountinfo = tmp_path / 'mountinfo'
    mountinfo.write_text('43 22 %d:%d / /mnt/pv\\040data rw - xfs /dev/dm-3 rw\n' % (os.major(rdev), os.minor(rdev)))
    return Users(tools(FakeRunner()), mountinfo=str(mountinfo), swaps=str(tmp_path / 'no-swaps'),
                 sys_dev_block=str(tmp_path / 'sys'))


def test_block_device_usage_online_ignores_holders(tmp_path):
    path = tmp_path / 'dev'
    path.write_bytes(b'')
    users = fake_block_device(tmp_path, str(path))
    assert users.block_device_usage(str(path)) == (['/mnt/pv data'], ['held by dm-3'])
    assert users.block_device_usage(str(path), online=True) == (['/mnt/pv data'], [])
    assert users.block_device_users(str(path)) == ['mounted on /mnt/pv data', 'held by dm-3']
    assert users.usage(str(path), True, online=True) == ([(str(path), '/mnt/pv data')], [])
    assert users.reasons(str(path), True) == ['mounted on /mnt/pv data', 'held by dm-3']


def test_file_users_names_an_active_swap_file(tmp_path):
    image = tmp_path / 'swap file'
    image.write_bytes(b'')
    swaps = tmp_path / 'swaps'
    swaps.write_text('Filename Type Size Used Priority\n%s file 4 0 -2\n' % str(image).replace(' ', '\\040'))
    users = Users(tools(FakeRunner()), swaps=str(swaps))
    assert users.file_users(str(image)) == ['an active swap file']
    assert users.reasons(str(image), False) == ['an active swap file']


def test_file_users_names_a_qemu_process(tmp_path, monkeypatch):
    image = tmp_path / 'disk.raw'
    image.write_bytes(b'')
    monkeypatch.setattr(users_module, 'qemu_lock_held', lambda path: True)
    users = Users(tools(FakeRunner()), swaps=str(tmp_path / 'no-swaps'))
    assert users.file_users(str(image)) == [QEMU_USER]
