# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command lines, output parsing and probes of _mkfs."""

from __future__ import annotations

import fcntl
import os
import struct

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _mkfs
from ansible_collections.hypervisor.images.plugins.module_utils._mkfs import (
    ExtGeometry,
    FsError,
    FsTools,
    Probe,
    label_problem,
    mkfs_argv,
    normalize_uuid,
    opts_conflict,
    parse_blkid_export,
    parse_dumpe2fs,
    parse_signatures,
    relabel_argvs,
    split_opts,
    wipe_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import CommandResult

DEV = '/srv/images/disk one.raw'
MiB = 1024 * 1024
UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'


def tool(name):
    return '/sbin/' + name


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
    assert mkfs_argv(tool(_mkfs.MKFS_TOOLS[fstype]), fstype, DEV, **kwargs) == argv


def test_mkfs_argv_never_adds_a_force_flag():
    for fstype in _mkfs.FSTYPES:
        argv = mkfs_argv(tool(_mkfs.MKFS_TOOLS[fstype]), fstype, DEV, label='x', regular_file=True)
        assert not set(argv) & {'-F', '-f', '--force'}


def test_mkfs_argv_refuses_other_types():
    with pytest.raises(ValueError):
        mkfs_argv('/sbin/mkfs.f2fs', 'f2fs', DEV)


@pytest.mark.parametrize('partition_table, argv', [
    (False, ['/sbin/wipefs', '--all', '--', DEV]),
    (True, ['/sbin/wipefs', '--all', '--force', '--', DEV]),
])
def test_wipe_argv(partition_table, argv):
    assert wipe_argv('/sbin/wipefs', DEV, partition_table=partition_table) == argv


def test_probe_and_listing_argv():
    assert _mkfs.probe_argv('/sbin/blkid', DEV) == ['/sbin/blkid', '-p', '-o', 'export', '--', DEV]
    assert _mkfs.signatures_argv('/sbin/wipefs', DEV) == [
        '/sbin/wipefs', '--no-act', '--json', '--output', 'DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL', '--', DEV]
    assert _mkfs.loop_devices_argv('/sbin/losetup', DEV) == [
        '/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated', DEV]
    assert _mkfs.ext_info_argv('/sbin/dumpe2fs', DEV) == ['/sbin/dumpe2fs', '-h', '--', DEV]
    assert _mkfs.resize_ext_argv('/sbin/resize2fs', DEV) == ['/sbin/resize2fs', '--', DEV]


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
    assert relabel_argvs(tool, fstype, DEV, label=label, uuid=uuid) == argvs


def test_btrfs_uuid_is_not_changed_in_place():
    with pytest.raises(ValueError):
        relabel_argvs(tool, 'btrfs', DEV, uuid=UUID)


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
])
def test_label_problems(fstype, label, fragment):
    assert fragment in label_problem(fstype, label)


@pytest.mark.parametrize('fstype, label', [
    ('ext4', 'x' * 16), ('xfs', 'x' * 12), ('swap', 'x' * 15), ('vfat', 'CONFIG-2'), ('btrfs', 'a b' * 80),
    ('ext4', "it's"),
])
def test_good_labels(fstype, label):
    assert label_problem(fstype, label) is None


@pytest.mark.parametrize('fstype, value, normal', [
    ('ext4', UUID.upper(), UUID),
    ('swap', ' %s ' % UUID, UUID),
    ('vfat', '1a2b3c4d', '1A2B-3C4D'),
    ('vfat', '1a2b-3C4D', '1A2B-3C4D'),
])
def test_normalize_uuid(fstype, value, normal):
    assert normalize_uuid(fstype, value) == normal


@pytest.mark.parametrize('fstype, value', [
    ('ext4', 'random'), ('xfs', 'generate'), ('ext4', UUID[:-1]), ('vfat', UUID), ('ext4', '1A2B-3C4D'),
])
def test_normalize_uuid_refuses(fstype, value):
    with pytest.raises(ValueError):
        normalize_uuid(fstype, value)


@pytest.mark.parametrize('args, flags, found', [
    (['-L', 'x'], ('-L',), '-L'),
    (['-Lx'], ('-L',), '-Lx'),
    (['--label=x'], ('-L', '--label'), '--label=x'),
    (['--label', 'x'], ('-L', '--label'), '--label'),
    (['-m', 'reflink=1'], ('-m',), None),
    (['-m', 'crc=1,uuid=%s' % UUID], ('-m',), '-m'),
    (['-muuid=%s' % UUID], ('-m',), '-muuid=%s' % UUID),
    (['-E', 'nodiscard', '--lazy'], ('-L',), None),
    ([], ('-U',), None),
])
def test_opts_conflict(args, flags, found):
    assert opts_conflict(args, flags) == found


# -- parsing ----------------------------------------------------------------------------

def test_parse_blkid_export_undoes_escapes():
    text = ('DEVNAME=/srv/disk\\ one.raw\nLABEL=a\\ b\\\'c\\"d\\\\e=f\nUUID=%s\nVERSION=1.0\nBLOCK_SIZE=4096\n'
            'TYPE=ext4\nUSAGE=filesystem\n\nnonsense\n' % UUID)
    fields = parse_blkid_export(text)
    assert fields['LABEL'] == 'a b\'c"d\\e=f'
    assert fields['DEVNAME'] == '/srv/disk one.raw'
    assert fields['TYPE'] == 'ext4' and fields['UUID'] == UUID
    probe = Probe(fields)
    assert probe.holds_only('ext4') and not probe.holds_only('ext3') and not probe.empty
    assert probe.describe() == "an ext4 file system labelled 'a b\\'c\"d\\\\e=f'"


def test_probe_descriptions():
    assert Probe().empty and Probe().describe() == 'nothing'
    both = Probe({'TYPE': 'ext4', 'USAGE': 'filesystem', 'PTTYPE': 'dos', 'PTUUID': '78563412'})
    assert not both.holds_only('ext4') and not both.empty
    assert both.describe() == 'an ext4 file system and a dos partition table'
    assert Probe({'TYPE': 'swap', 'USAGE': 'other', 'LABEL': 's'}).describe() == "a swap area labelled 's'"
    assert Probe({'TYPE': 'xfs', 'USAGE': 'filesystem'}).describe() == 'an xfs file system'
    assert Probe({'TYPE': 'btrfs', 'USAGE': 'filesystem'}).describe() == 'a btrfs file system'
    assert Probe({'TYPE': 'LVM2_member', 'USAGE': 'raid'}).describe() == 'a LVM2_member signature (usage: raid)'
    assert Probe({'PTTYPE': 'gpt'}).describe() == 'a gpt partition table'
    ambivalent = Probe(ambivalent=True)
    assert not ambivalent.empty and not ambivalent.holds_only('ext4')
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
    assert runner.calls == [['/sbin/blkid', '-p', '-o', 'export', '--', DEV]]
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
    monkeypatch.setattr(FsTools, 'block_device_users',
                        lambda self, path: ['mounted on /mnt/x'] if path == '/dev/loop5' else [])
    assert tools.file_users(str(image)) == ['attached to /dev/loop5, which is mounted on /mnt/x']
    assert runner.calls == [['/sbin/losetup', '--list', '--noheadings', '--raw', '--output', 'NAME', '--associated',
                             str(image)]]


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


def test_device_lock_is_exclusive(tmp_path):
    path = str(tmp_path / 'dev')
    open(path, 'wb').close()
    with _mkfs.DeviceLock(path):
        with pytest.raises(FsError) as excinfo:
            with _mkfs.DeviceLock(path, timeout=0.3, poll_interval=0.1):
                pass
    assert 'another process holds its lock' in excinfo.value.msg
    with _mkfs.DeviceLock(path):
        pass


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
