# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision logic of mkfs, with blkid, wipefs and the mkfs tools replaced by a fake that pins argv."""

from __future__ import annotations

import json
import os
import struct

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _mkfs
from ansible_collections.hypervisor.images.plugins.module_utils._fs import BLOCK_DEVICE
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import CommandResult
from ansible_collections.hypervisor.images.plugins.modules import mkfs

MiB = 1024 * 1024
UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'
OTHER_UUID = '11111111-2222-4333-8444-555555555555'
USAGE = {'swap': 'other'}


def sbin(name):
    return '/sbin/' + name


class FakeDevice:
    """Enough of blkid, wipefs, the mkfs tools and their relabelling tools for decision tests.

    What blkid would find lives in ``signatures`` (a list of dicts with type,
    usage, label and uuid); every call is recorded as an argv; ``fail_on``
    maps a tool name to the (rc, stderr) it fails with.
    """

    def __init__(self):
        self.calls = []
        self.signatures = []
        self.fail_on = {}
        self.loops = []
        self.ext = {'Block size': '4096', 'Block count': '16384', 'First block': '0', 'Blocks per group': '32768',
                    'Inode blocks per group': '512', 'Reserved GDT blocks': '7', 'Group descriptor size': '64',
                    'Filesystem features': 'has_journal extent 64bit flex_bg sparse_super resize_inode',
                    'Filesystem state': 'clean', 'Last mount time': 'n/a',
                    'Last checked': 'Sun Nov 22 00:58:04 2026'}
        self.uuids = iter('%08x-0000-4000-8000-000000000000' % n for n in range(1, 100))

    def put(self, fstype, label=None, uuid=None):
        self.signatures.append({'type': fstype, 'usage': USAGE.get(fstype, 'filesystem'), 'label': label,
                                'uuid': uuid or next(self.uuids), 'offset': '0x438'})

    def put_partition_table(self, pttype='dos'):
        self.signatures.append({'type': pttype, 'usage': 'partition-table', 'label': None, 'uuid': None,
                                'offset': '0x1fe'})

    @property
    def fs(self):
        found = [entry for entry in self.signatures if entry['usage'] != 'partition-table']
        return found[0] if found else None

    def changing_calls(self):
        return [call for call in self.calls
                if os.path.basename(call[0]) not in ('blkid', 'losetup', 'dumpe2fs')
                and '--no-act' not in call]

    @staticmethod
    def option(argv, flag):
        return argv[argv.index(flag) + 1] if flag in argv else None

    def __call__(self, argv, limits):
        self.calls.append(argv)
        name = os.path.basename(argv[0])
        if name in self.fail_on:
            rc, stderr = self.fail_on[name]
            return CommandResult(argv, rc, '', stderr, 0.0)
        out = ''
        if name == 'blkid':
            filesystems = [entry for entry in self.signatures if entry['usage'] != 'partition-table']
            tables = [entry for entry in self.signatures if entry['usage'] == 'partition-table']
            if not self.signatures:
                return CommandResult(argv, 2, '', '', 0.0)
            if len(filesystems) > 1:
                return CommandResult(argv, 8, '', 'ambivalent result', 0.0)
            lines = ['DEVNAME=%s' % argv[-1].replace(' ', '\\ ')]
            if filesystems:
                entry = filesystems[0]
                if entry['label'] is not None:
                    lines.append('LABEL=%s' % entry['label'].replace(' ', '\\ '))
                lines += ['UUID=%s' % entry['uuid'], 'TYPE=%s' % entry['type'], 'USAGE=%s' % entry['usage']]
            if tables:
                lines += ['PTTYPE=%s' % tables[0]['type']]
            out = '\n'.join(lines) + '\n'
        elif name == 'wipefs' and '--no-act' in argv:
            out = json.dumps({'signatures': [dict(entry, device=argv[-1]) for entry in self.signatures]})
        elif name == 'wipefs':
            # without --force, wipefs leaves a partition table in an image file alone
            self.signatures = [] if '--force' in argv else [
                entry for entry in self.signatures if entry['usage'] == 'partition-table']
        elif name.startswith('mkfs.') or name == 'mkswap':
            fstype = 'swap' if name == 'mkswap' else name.split('.', 1)[1]
            label = self.option(argv, '-n' if fstype == 'vfat' else '-L')
            uuid = self.option(argv, '-U')
            if fstype == 'vfat' and '-i' in argv:
                raw = self.option(argv, '-i')
                uuid = '%s-%s' % (raw[:4], raw[4:])
            if fstype == 'xfs' and '-m' in argv:
                uuid = self.option(argv, '-m').split('=', 1)[1]
            self.signatures = []
            self.put(fstype, label, uuid)
        elif name in ('tune2fs', 'swaplabel'):
            if '-L' in argv:
                self.fs['label'] = self.option(argv, '-L')
            if '-U' in argv:
                self.fs['uuid'] = self.option(argv, '-U')
        elif name == 'xfs_db':
            for index, arg in enumerate(argv):
                if arg == '-c':
                    key, value = argv[index + 1].split(' ', 1)
                    self.fs[key] = value
        elif name == 'btrfs':
            self.fs['label'] = argv[-1]
        elif name == 'fatlabel':
            if '-i' in argv:
                self.fs['uuid'] = '%s-%s' % (argv[-1][:4], argv[-1][4:])
            else:
                self.fs['label'] = argv[-1]
        elif name == 'losetup':
            out = ''.join(loop + '\n' for loop in self.loops)
        elif name == 'dumpe2fs':
            out = ''.join('%s:  %s\n' % item for item in self.ext.items())
        elif name == 'resize2fs':
            size = os.path.getsize(argv[-1])
            self.ext['Block count'] = str(size // int(self.ext['Block size']))
        return CommandResult(argv, 0, out, '', 0.0)


@pytest.fixture
def device(tmp_path):
    return FakeDevice()


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / 'disk eph0.raw')
    with open(path, 'wb') as handle:
        handle.truncate(64 * MiB)
    return path


@pytest.fixture
def module(monkeypatch, device, run_module, tmp_path):
    def factory(module):
        return _mkfs.FsTools(runner=device, which=sbin, mountinfo=str(tmp_path / 'mountinfo'),
                             swaps=str(tmp_path / 'swaps'), sys_dev_block=str(tmp_path / 'sys'))

    monkeypatch.setattr(mkfs, 'FsTools', factory)

    def run(args, **kwargs):
        return run_module(mkfs.main, args, **kwargs)

    run.device = device
    return run


# -- making file systems ----------------------------------------------------------------

@pytest.mark.parametrize('fstype, label, uuid, argv', [
    ('ext4', 'eph0', None, ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0']),
    ('ext3', None, UUID, ['/sbin/mkfs.ext3', '-E', 'nodiscard', '-U', UUID]),
    ('ext2', 'eph0', UUID, ['/sbin/mkfs.ext2', '-E', 'nodiscard', '-L', 'eph0', '-U', UUID]),
    ('xfs', 'scratch', UUID, ['/sbin/mkfs.xfs', '-L', 'scratch', '-m', 'uuid=' + UUID]),
    ('btrfs', 'data', None, ['/sbin/mkfs.btrfs', '-L', 'data']),
    ('vfat', 'CONFIG-2', '1a2b3c4d', ['/sbin/mkfs.vfat', '-n', 'CONFIG-2', '-i', '1A2B3C4D']),
    ('swap', 'swap0', UUID.upper(), ['/sbin/mkswap', '-L', 'swap0', '-U', UUID]),
])
def test_makes_each_file_system_on_an_empty_image(module, image, fstype, label, uuid, argv):
    args = {'dev': image, 'fstype': fstype}
    if label:
        args['label'] = label
    if uuid:
        args['uuid'] = uuid
    out = module(args)
    assert not out.failed and out.result['changed'] is True
    (made,) = module.device.changing_calls()
    assert made == argv + ['--', image]
    assert out.result['cmd'] == made and out.result['commands'] == [made]
    assert out.result['fstype'] == fstype and out.result['label'] == label
    assert out.result['size'] == 64 * MiB and out.result['dev'] == image
    assert module.device.calls[0] == ['/sbin/blkid', '-p', '-o', 'export', '--', image]


def test_opts_as_a_string_or_a_list(module, image):
    module({'dev': image, 'fstype': 'ext4', 'opts': "-m 1 -O 'metadata_csum_seed'"})
    assert module.device.changing_calls()[-1] == [
        '/sbin/mkfs.ext4', '-E', 'nodiscard', '-m', '1', '-O', 'metadata_csum_seed', '--', image]
    module.device.signatures = []
    module({'path': image, 'type': 'xfs', 'opts': ['-m', 'reflink=1']})
    assert module.device.changing_calls()[-1] == ['/sbin/mkfs.xfs', '-m', 'reflink=1', '--', image]


def test_four_steps(module, image):
    args = {'device': image, 'fstype': 'ext4', 'label': 'eph0'}
    steps = [module(args, check_mode=True), module(args), module(args), module(args, check_mode=True)]
    assert [step.result['changed'] for step in steps] == [True, True, False, False]
    assert len(module.device.changing_calls()) == 1
    assert steps[0].result['cmd'] == steps[1].result['cmd']


def test_check_mode_runs_only_probes(module, image):
    out = module({'dev': image, 'fstype': 'swap', 'label': 'swap0'}, check_mode=True, diff=True)
    assert out.result['changed'] and module.device.changing_calls() == []
    assert out.result['cmd'] == ['/sbin/mkswap', '-L', 'swap0', '--', image]
    assert out.result['diff'] == {'before': {'fstype': None, 'label': None, 'uuid': None},
                                  'after': {'fstype': 'swap', 'label': 'swap0', 'uuid': None}}
    assert os.listdir(os.path.dirname(image)) == [os.path.basename(image)]


def test_same_file_system_runs_no_command(module, image):
    module.device.put('ext4', 'eph0', UUID)
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'eph0', 'uuid': UUID}, diff=True)
    assert not out.failed and out.result['changed'] is False
    assert module.device.changing_calls() == []
    assert out.result['uuid'] == UUID and out.result['label'] == 'eph0'
    assert 'cmd' not in out.result
    assert out.result['diff']['before'] == out.result['diff']['after']


def test_force_keeps_a_file_system_of_the_same_type(module, image):
    module.device.put('xfs', 'scratch')
    out = module({'dev': image, 'fstype': 'xfs', 'force': True})
    assert out.result['changed'] is False and module.device.changing_calls() == []


def test_same_type_is_found_without_a_label_asked_for(module, image):
    module.device.put('btrfs', 'whatever')
    out = module({'dev': image, 'fstype': 'btrfs'})
    assert out.result['changed'] is False and out.result['label'] == 'whatever'


# -- what else is there --------------------------------------------------------------------

@pytest.mark.parametrize('setup, found', [
    (lambda device: device.put('ext4', 'eph0'), "an ext4 file system labelled 'eph0'"),
    (lambda device: device.put('ext3'), 'an ext3 file system'),
    (lambda device: device.put('swap'), 'a swap area'),
    (lambda device: device.put_partition_table('gpt'), 'a gpt partition table'),
    (lambda device: (device.put('xfs'), device.put_partition_table()), 'an xfs file system and a dos partition table'),
    (lambda device: (device.put('xfs'), device.put('ext4')), 'several signatures (xfs, ext4)'),
])
def test_something_else_is_refused_without_force_and_nothing_runs(module, image, setup, found):
    setup(module.device)
    out = module({'dev': image, 'fstype': 'xfs' if found.startswith('an ext') else 'ext4'})
    assert out.failed
    assert found in out.result['msg'] and 'force: true' in out.result['msg'] and image in out.result['msg']
    assert module.device.changing_calls() == []


def test_same_type_with_a_partition_table_is_refused(module, image):
    module.device.put('ext4')
    module.device.put_partition_table()
    out = module({'dev': image, 'fstype': 'ext4'})
    assert out.failed and 'an ext4 file system and a dos partition table' in out.result['msg']


def test_force_wipes_then_makes(module, image):
    module.device.put('ext4', 'old')
    out = module({'dev': image, 'fstype': 'vfat', 'label': 'NEW', 'force': True}, diff=True)
    assert not out.failed and out.result['changed']
    assert module.device.changing_calls() == [
        ['/sbin/wipefs', '--all', '--', image],
        ['/sbin/mkfs.vfat', '-n', 'NEW', '--', image],
    ]
    assert out.result['commands'] == module.device.changing_calls()
    assert out.result['cmd'] == ['/sbin/mkfs.vfat', '-n', 'NEW', '--', image]
    assert out.result['fstype'] == 'vfat' and out.result['label'] == 'NEW'
    assert out.result['diff']['before']['fstype'] == 'ext4' and out.result['diff']['before']['signatures'] == ['ext4']
    assert out.result['diff']['after']['fstype'] == 'vfat'


def test_force_erases_a_partition_table_with_wipefs_force(module, image):
    module.device.put_partition_table()
    out = module({'dev': image, 'fstype': 'ext4', 'force': True})
    assert module.device.changing_calls()[0] == ['/sbin/wipefs', '--all', '--force', '--', image]
    assert out.result['fstype'] == 'ext4'


def test_force_in_check_mode_runs_nothing(module, image):
    module.device.put('swap')
    out = module({'dev': image, 'fstype': 'ext4', 'force': True}, check_mode=True)
    assert out.result['changed'] and module.device.changing_calls() == []
    assert [argv[0] for argv in out.result['commands']] == ['/sbin/wipefs', '/sbin/mkfs.ext4']


@pytest.mark.parametrize('force', [False, True])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_a_qcow2_image_is_refused_even_with_force(module, tmp_path, force, state):
    path = str(tmp_path / 'disk.qcow2')
    with open(path, 'wb') as handle:
        handle.write(b'QFI\xfb' + struct.pack('>I', 3) + b'\0' * 504)
    out = module({'dev': path, 'fstype': 'ext4', 'force': force, 'state': state})
    assert out.failed and 'is a qcow2 image' in out.result['msg']
    assert 'hypervisor.images.qemu_image' in out.result['msg']
    assert module.device.calls == []


def test_a_missing_image_is_not_created(module, tmp_path):
    path = str(tmp_path / 'missing.raw')
    out = module({'dev': path, 'fstype': 'ext4'})
    assert out.failed and 'does not exist' in out.result['msg']
    assert 'hypervisor.images.qemu_image (format: raw' in out.result['msg']
    assert not os.path.exists(path) and module.device.calls == []


def test_a_directory_is_refused(module, tmp_path):
    out = module({'dev': str(tmp_path), 'fstype': 'ext4'})
    assert out.failed and 'is a directory, not a raw image file or a block device' in out.result['msg']


# -- in use ----------------------------------------------------------------------------------

def test_a_loop_mounted_image_is_refused_even_with_force(module, image, monkeypatch):
    module.device.put('ext4')
    module.device.loops = ['/dev/loop3']
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users',
                        lambda self, path: ['mounted on /mnt/eph'] if path == '/dev/loop3' else [])
    out = module({'dev': image, 'fstype': 'xfs', 'force': True})
    assert out.failed
    assert 'attached to /dev/loop3, which is mounted on /mnt/eph' in out.result['msg']
    assert 'even with force' in out.result['msg']
    assert module.device.changing_calls() == []


def test_a_mounted_image_with_the_right_file_system_is_fine(module, image, monkeypatch):
    module.device.put('ext4', 'eph0')
    module.device.loops = ['/dev/loop3']
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users', lambda self, path: ['mounted on /mnt/eph'])
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'eph0'})
    assert not out.failed and not out.result['changed']
    assert not any(call[0] == '/sbin/losetup' for call in module.device.calls)


def test_relabelling_a_mounted_image_is_refused(module, image, monkeypatch):
    module.device.put('ext4', 'eph0')
    module.device.loops = ['/dev/loop3']
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users', lambda self, path: ['mounted on /mnt/eph'])
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'other'}, check_mode=True)
    assert out.failed and 'is in use' in out.result['msg'] and 'does not change' in out.result['msg']


def test_an_active_swap_file_is_refused(module, image, tmp_path):
    module.device.put('swap', 'old')
    (tmp_path / 'swaps').write_text('Filename Type Size Used Priority\n%s file 4 0 -2\n'
                                    % image.replace(' ', '\\040'))
    out = module({'dev': image, 'fstype': 'swap', 'label': 'new'})
    assert out.failed and 'an active swap file' in out.result['msg']


def test_a_block_device_is_checked_and_locked(module, image, monkeypatch):
    real_kind = mkfs.path_kind
    monkeypatch.setattr(mkfs, 'path_kind', lambda path: BLOCK_DEVICE if path == image else real_kind(path))
    seen = []
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users', lambda self, path: seen.append(path) or [])
    locked = []
    real_lock = _mkfs.DeviceLock

    class RecordingLock(real_lock):
        def __enter__(self):
            locked.append(self.path)
            return real_lock.__enter__(self)

    monkeypatch.setattr(mkfs, 'DeviceLock', RecordingLock)
    out = module({'dev': image, 'fstype': 'ext4'})
    assert not out.failed and seen == [image] and locked == [image]
    # no -E nodiscard on a device, and no lock file beside it
    assert module.device.changing_calls() == [['/sbin/mkfs.ext4', '--', image]]
    assert os.listdir(os.path.dirname(image)) == [os.path.basename(image)]


def test_a_busy_block_device_is_refused(module, image, monkeypatch):
    real_kind = mkfs.path_kind
    monkeypatch.setattr(mkfs, 'path_kind', lambda path: BLOCK_DEVICE if path == image else real_kind(path))
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users', lambda self, path: ['held by dm-0'])
    out = module({'dev': image, 'fstype': 'ext4'})
    assert out.failed and 'held by dm-0' in out.result['msg'] and module.device.changing_calls() == []


# -- labels and UUIDs of existing file systems --------------------------------------------------

@pytest.mark.parametrize('fstype, args, argvs', [
    ('ext4', {'label': 'new'}, [['/sbin/tune2fs', '-L', 'new']]),
    ('ext4', {'label': 'new', 'uuid': UUID}, [['/sbin/tune2fs', '-L', 'new', '-U', UUID]]),
    ('xfs', {'uuid': UUID}, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid ' + UUID]]),
    ('btrfs', {'label': 'new one'}, [['/sbin/btrfs', 'filesystem', 'label', '--']]),
    ('vfat', {'label': 'NEW', 'uuid': '1A2B3C4D'}, [['/sbin/fatlabel', '--'], ['/sbin/fatlabel', '-i', '--']]),
    ('swap', {'label': 'new', 'uuid': UUID}, [['/sbin/swaplabel', '-L', 'new', '-U', UUID]]),
])
def test_label_and_uuid_are_changed_with_the_file_systems_tool(module, image, fstype, args, argvs):
    module.device.put(fstype, 'old', '0000-0000' if fstype == 'vfat' else OTHER_UUID)
    out = module(dict(args, dev=image, fstype=fstype), diff=True)
    assert not out.failed and out.result['changed']
    calls = module.device.changing_calls()
    assert len(calls) == len(argvs)
    for call, prefix in zip(calls, argvs):
        assert call[:len(prefix)] == prefix and image in call
    assert out.result['label'] == args.get('label', 'old')
    assert out.result['diff']['before']['label'] == 'old'
    assert out.result['diff']['after']['label'] == args.get('label', 'old')
    again = module(dict(args, dev=image, fstype=fstype))
    assert again.result['changed'] is False


def test_btrfs_uuid_of_an_existing_file_system_is_not_changed(module, image):
    module.device.put('btrfs', 'data', OTHER_UUID)
    out = module({'dev': image, 'fstype': 'btrfs', 'uuid': UUID})
    assert out.failed and 'btrfstune' in out.result['msg'] and module.device.changing_calls() == []


def test_xfs_label_with_a_space_is_only_set_by_mkfs(module, image):
    module.device.put('xfs', 'old')
    out = module({'dev': image, 'fstype': 'xfs', 'label': 'a b'})
    assert out.failed and 'spaces or quotes' in out.result['msg']


def test_a_failing_tool_reports_cmd_rc_and_stderr(module, image):
    module.device.put('ext4', 'old')
    module.device.fail_on['tune2fs'] = (1, 'tune2fs: Bad magic number in super-block')
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'new'})
    assert out.failed and out.result['rc'] == 1
    assert out.result['cmd'] == ['/sbin/tune2fs', '-L', 'new', '--', image]
    assert 'Bad magic number' in out.result['msg'] and out.result['stderr']


def test_mkfs_that_leaves_something_else_fails(module, image):
    module.device.fail_on['mkfs.ext4'] = (1, 'mkfs.ext4: Device size reported to be zero.')
    out = module({'dev': image, 'fstype': 'ext4'})
    assert out.failed and out.result['rc'] == 1 and 'Device size reported to be zero' in out.result['stderr']


# -- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    ({'uuid': 'random'}, 'not a UUID'),
    ({'uuid': 'generate'}, 'new UUID on every run'),
    ({'uuid': 'nope'}, 'not a valid ext4 UUID'),
    ({'label': 'x' * 17}, 'at most 16'),
    ({'label': 'eph0', 'opts': '-L other'}, 'label is given twice'),
    ({'uuid': UUID, 'opts': ['-U', OTHER_UUID]}, 'UUID is given twice'),
    ({'opts': '-E "unclosed'}, 'cannot split'),
    ({'opts': {'a': 1}}, 'not a dict'),
])
def test_bad_parameters_fail_before_anything_runs(module, image, args, fragment):
    out = module(dict(args, dev=image, fstype='ext4'))
    assert out.failed and fragment in out.result['msg']
    assert module.device.calls == []


def test_fstype_is_required_with_state_present(module, image):
    out = module({'dev': image})
    assert out.failed and 'fstype' in out.result['msg']


def test_resizefs_and_uuid_are_mutually_exclusive(module, image):
    out = module({'dev': image, 'fstype': 'ext4', 'resizefs': True, 'uuid': UUID})
    assert out.failed and 'mutually exclusive' in out.result['msg']


# -- resizefs ---------------------------------------------------------------------------------------

def test_resizefs_grows_ext4_after_the_image_grew(module, image):
    module.device.put('ext4', 'eph0')   # 16384 blocks of 4 KiB: 64 MiB, the whole image
    args = {'dev': image, 'fstype': 'ext4', 'resizefs': True}
    out = module(args)
    assert out.result['changed'] is False and out.result['fs_size'] == 64 * MiB
    assert module.device.changing_calls() == []
    with open(image, 'r+b') as handle:
        handle.truncate(128 * MiB)
    steps = [module(args, check_mode=True, diff=True), module(args), module(args), module(args, check_mode=True)]
    assert [step.result['changed'] for step in steps] == [True, True, False, False]
    assert module.device.changing_calls() == [['/sbin/resize2fs', '--', image]]
    assert steps[0].result['fs_size'] == steps[1].result['fs_size'] == 128 * MiB
    assert steps[0].result['diff']['before']['fs_size'] == 64 * MiB
    assert steps[0].result['diff']['after']['fs_size'] == 128 * MiB


def test_resizefs_asks_for_e2fsck_when_resize2fs_would(module, image):
    module.device.put('ext4')
    module.device.ext['Last mount time'] = 'Mon Nov 23 10:00:00 2026'
    with open(image, 'r+b') as handle:
        handle.truncate(128 * MiB)
    out = module({'dev': image, 'fstype': 'ext4', 'resizefs': True}, check_mode=True)
    assert out.failed and 'e2fsck -f' in out.result['msg'] and module.device.changing_calls() == []


def test_resizefs_on_a_file_system_larger_than_its_image_fails(module, image):
    module.device.put('ext4')
    module.device.ext['Block count'] = str(32768)
    out = module({'dev': image, 'fstype': 'ext4', 'resizefs': True})
    assert out.failed and 'shrunk under it' in out.result['msg']


@pytest.mark.parametrize('fstype', ['xfs', 'btrfs', 'vfat'])
def test_resizefs_of_other_existing_file_systems_fails_clearly(module, image, fstype):
    module.device.put(fstype)
    out = module({'dev': image, 'fstype': fstype, 'resizefs': True})
    assert out.failed and 'not supported by this module' in out.result['msg']
    assert module.device.changing_calls() == []


def test_resizefs_on_a_new_file_system_just_makes_it(module, image):
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True})
    assert not out.failed and module.device.changing_calls() == [['/sbin/mkfs.xfs', '--', image]]


def test_resizefs_remakes_a_swap_area_keeping_uuid_and_label(module, image):
    module.device.put('swap', 'swap0', UUID)
    page = os.sysconf('SC_PAGE_SIZE')
    with open(image, 'r+b') as handle:
        handle.seek(1024)
        handle.write(struct.pack('<III', 1, 32 * MiB // page - 1, 0))
        handle.seek(page - 10)
        handle.write(b'SWAPSPACE2')
    args = {'dev': image, 'fstype': 'swap', 'resizefs': True}
    out = module(args, check_mode=True)
    assert out.result['changed'] and out.result['fs_size'] == 64 * MiB
    assert out.result['cmd'] == ['/sbin/mkswap', '-L', 'swap0', '-U', UUID, '--', image]
    # what mkswap writes: a header for the whole image
    with open(image, 'r+b') as handle:
        handle.seek(1024)
        handle.write(struct.pack('<III', 1, 64 * MiB // page - 1, 0))
    again = module(args)
    assert again.result['changed'] is False and again.result['fs_size'] == 64 * MiB


# -- state: absent --------------------------------------------------------------------------------

def test_absent_wipes_what_is_there(module, image):
    module.device.put('ext4', 'eph0')
    steps = [module({'dev': image, 'state': 'absent'}, check_mode=True, diff=True),
             module({'dev': image, 'state': 'absent', 'fstype': 'xfs'})]
    assert [step.result['changed'] for step in steps] == [True, True]
    assert module.device.changing_calls() == [['/sbin/wipefs', '--all', '--', image]]
    assert steps[0].result['diff']['before']['fstype'] == 'ext4'
    assert steps[0].result['diff']['after'] == {'fstype': None, 'label': None, 'uuid': None, 'signatures': []}
    assert steps[1].result['fstype'] is None
    again = [module({'dev': image, 'state': 'absent'}), module({'dev': image, 'state': 'absent'}, check_mode=True)]
    assert [step.result['changed'] for step in again] == [False, False]


def test_absent_with_a_partition_table_uses_force(module, image):
    module.device.put_partition_table('gpt')
    out = module({'dev': image, 'state': 'absent'})
    assert out.result['cmd'] == ['/sbin/wipefs', '--all', '--force', '--', image]


def test_absent_on_a_missing_dev_is_fine(module, tmp_path):
    out = module({'dev': str(tmp_path / 'missing'), 'state': 'absent'})
    assert not out.failed and not out.result['changed'] and module.device.calls == []


def test_absent_on_a_mounted_image_is_refused(module, image, monkeypatch):
    module.device.put('ext4')
    module.device.loops = ['/dev/loop1']
    monkeypatch.setattr(_mkfs.FsTools, 'block_device_users', lambda self, path: ['mounted on /mnt'])
    out = module({'dev': image, 'state': 'absent'})
    assert out.failed and 'does not wipe' in out.result['msg'] and module.device.changing_calls() == []
