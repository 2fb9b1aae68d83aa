# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision logic of mkfs, with blkid, wipefs and the mkfs tools replaced by a fake that pins argv."""

from __future__ import annotations

import json
import os
import struct

import pytest
from ansible.module_utils import basic

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems import probe
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import Tools
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.users import Users
from ansible_collections.hypervisor.images.plugins.module_utils._fs import BLOCK_DEVICE
from ansible_collections.hypervisor.images.plugins.module_utils._run import ToolNotFoundError
from ansible_collections.hypervisor.images.plugins.module_utils._tasks import mkfs as mkfs_task
from ansible_collections.hypervisor.images.plugins.modules import mkfs
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner

MiB = 1024 * 1024
UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'
OTHER_UUID = '11111111-2222-4333-8444-555555555555'
NIL_UUID = '00000000-0000-0000-0000-000000000000'
LVM_ID = 'Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn'
USAGE = {'swap': 'other', 'LVM2_member': 'raid'}
# What each tool takes for the label and the UUID (the blkid TYPE it makes, by the fake's reckoning).
LABEL_FLAGS = {'vfat': ('-n', '--volume-name'), 'f2fs': ('-l',), 'reiserfs': ('-l', '--label'), 'gfs2': ('-t',),
               'btrfs': ('-L', '--label'), 'swap': ('-L', '--label'), 'ocfs2': ('-L', '--label')}
UUID_FLAGS = {'vfat': ('-i', '--volume-id'), 'reiserfs': ('-u', '--uuid'), 'LVM2_member': ('-u', '--uuid'),
              'btrfs': ('-U', '--uuid'), 'swap': ('-U', '--uuid')}
MKFS_TYPES = {'mkswap': 'swap', 'pvcreate': 'LVM2_member'}
# xfs_info of xfsprogs 6.1.0 on a loop-mounted 320 MiB image
XFS_INFO = '''meta-data=/dev/loop0             isize=512    agcount=4, agsize={agblocks} blks
         =                       sectsz=512   attr=2, projid32bit=1
         =                       crc=1        finobt=1, sparse=1, rmapbt=0
         =                       reflink=1    bigtime=1 inobtcount=1 nrext64=0
data     =                       bsize={blocksize}   blocks={dblocks}, imaxpct=25
         =                       sunit=0      swidth=0 blks
naming   =version 2              bsize=4096   ascii-ci=0, ftype=1
log      =internal log           bsize=4096   blocks=16384, version=2
         =                       sectsz=512   sunit=0 blks, lazy-count=1
realtime =none                   extsz=4096   blocks=0, rtextents=0
'''
_AUTO = object()


def sbin(name, package):
    return '/sbin/' + name


def truncate(path, size):
    with open(path, 'ab') as handle:
        handle.truncate(size)


def make_room(path, fstype):
    """Grow the 64 MiB test image to 512 MiB for the types that need more (xfs 300 MiB, btrfs 109 MiB)."""
    if fstype in ('xfs', 'btrfs'):
        truncate(path, 512 * MiB)


def craft_btrfs(path, devid, total, sector_size=4096):
    """The fields of a btrfs superblock that mkfs reads, at 64 KiB."""
    with open(path, 'r+b') as handle:
        handle.seek(65536 + 0x40)
        handle.write(b'_BHRfS_M')
        handle.seek(65536 + 0x90)
        handle.write(struct.pack('<I', sector_size))
        handle.seek(65536 + 0xc9)
        handle.write(struct.pack('<QQ', devid, total))


def craft_f2fs(path, block_count):
    """The fields of an f2fs superblock that mkfs reads, at 1 KiB (4 KiB blocks)."""
    with open(path, 'r+b') as handle:
        handle.seek(1024)
        handle.write(struct.pack('<I', 0xF2F52010))
        handle.seek(1024 + 16)
        handle.write(struct.pack('<I', 12))
        handle.seek(1024 + 36)
        handle.write(struct.pack('<Q', block_count))


class FakeDevice(FakeRunner):
    """Enough of blkid, wipefs, the mkfs tools and their relabelling and growing tools for decision tests.

    What blkid would find lives in ``signatures`` (a list of dicts with type,
    usage, label and uuid); every call is recorded as an argv; ``fail_on``
    maps a tool name to the (rc, stderr) it fails with; ``mkfs_leaves`` holds
    the types of signatures mkfs leaves in place. ``xfs``, ``btrfs``
    and ``pv`` hold what xfs_info/xfs_db, btrfs filesystem show and pvs
    report; ``loop_sizes`` the size the kernel sees for each loop device,
    ``loop_files`` the image behind it (losetup --set-capacity syncs them).
    """

    def __init__(self):
        super(FakeDevice, self).__init__()
        self.signatures = []
        self.fail_on = {}
        # types of signatures mkfs leaves where they are (mkfs.vfat and a GPT's backup header at the end)
        self.mkfs_leaves = set()
        self.loops = []
        self.loop_sizes = {}
        self.loop_files = {}
        self.ext = {'Block size': '4096', 'Block count': '16384', 'First block': '0', 'Blocks per group': '32768',
                    'Inode blocks per group': '512', 'Reserved GDT blocks': '7', 'Group descriptor size': '64',
                    'Filesystem features': 'has_journal extent 64bit flex_bg sparse_super resize_inode',
                    'Filesystem state': 'clean', 'Last mount time': 'n/a',
                    'Last checked': 'Sun Nov 22 00:58:04 2026'}
        self.xfs = {'dblocks': 81920, 'blocksize': 4096, 'agblocks': 20480}
        self.btrfs = {'devid': 1, 'size': 256 * MiB}
        self.pv = {'pv_size': 64 * MiB, 'dev_size': 64 * MiB}
        self.numbers = iter(range(1, 1000))

    def new_uuid(self, fstype):
        number = next(self.numbers)
        if fstype == 'LVM2_member':
            return 'Fake%02d-0000-0000-0000-0000-0000-000000' % number
        if fstype == 'vfat':
            return '%04X-0000' % number
        return '%08x-0000-4000-8000-000000000000' % number

    def blkid_uuid(self, fstype, value):
        """The UUID blkid reports after a tool was given ``value`` (a UUID or a keyword)."""
        if value is None or value in ('random', 'time', 'generate'):
            return self.new_uuid(fstype)
        if value in ('clear', 'nil'):
            return None   # blkid reports no UUID for an all-zero one
        if fstype == 'vfat':
            return '%s-%s' % (value[:4].upper(), value[-4:].upper())
        return value if fstype == 'LVM2_member' else value.lower()

    def put(self, fstype, label=None, uuid=_AUTO):
        self.signatures.append({'type': fstype, 'usage': USAGE.get(fstype, 'filesystem'), 'label': label,
                                'uuid': self.new_uuid(fstype) if uuid is _AUTO else uuid, 'offset': '0x438'})

    def put_partition_table(self, pttype='dos'):
        self.signatures.append({'type': pttype, 'usage': 'partition-table', 'label': None, 'uuid': None,
                                'offset': '0x1fe'})

    @property
    def fs(self):
        found = [entry for entry in self.signatures if entry['usage'] != 'partition-table']
        return found[0] if found else None

    @staticmethod
    def reads_only(argv):
        name = os.path.basename(argv[0])
        return (name in ('blkid', 'dumpe2fs', 'xfs_info', 'pvs') or '--no-act' in argv
                or (name == 'losetup' and '--list' in argv) or (name == 'xfs_db' and '-r' in argv)
                or (name == 'btrfs' and argv[1:3] == ['filesystem', 'show']))

    def changing_calls(self):
        return [call for call in self.calls if not self.reads_only(call)]

    @staticmethod
    def option(argv, flags):
        """The value of the last of ``flags`` in ``argv`` (-X value, -Xvalue or --long=value), as getopt reads it."""
        if isinstance(flags, str):
            flags = (flags,)
        found = None
        for index, arg in enumerate(argv):
            for flag in flags:
                if arg == flag:
                    found = argv[index + 1]
                elif flag.startswith('--') and arg.startswith(flag + '='):
                    found = arg[len(flag) + 1:]
                elif not flag.startswith('--') and arg.startswith(flag) and not arg.startswith('--'):
                    found = arg[len(flag):]
        return found

    def mkfs(self, argv, fstype):
        label = self.option(argv, LABEL_FLAGS.get(fstype, ('-L',)))
        if fstype == 'xfs':
            uuid = None
            for index, arg in enumerate(argv):
                if arg == '-m':
                    uuid = dict(part.split('=', 1) for part in argv[index + 1].split(',')).get('uuid', uuid)
        else:
            uuid = self.option(argv, UUID_FLAGS.get(fstype, ('-U',)))
        self.signatures = [entry for entry in self.signatures if entry['type'] in self.mkfs_leaves]
        self.put(fstype, label, self.blkid_uuid(fstype, uuid))
        self.signatures.insert(0, self.signatures.pop())

    def answer(self, argv):
        name = os.path.basename(argv[0])
        if name in self.fail_on:
            rc, stderr = self.fail_on[name]
            return rc, '', stderr
        out = ''
        fs = self.fs
        if name == 'blkid':
            filesystems = [entry for entry in self.signatures if entry['usage'] != 'partition-table']
            tables = [entry for entry in self.signatures if entry['usage'] == 'partition-table']
            if not self.signatures:
                return 2, '', ''
            if len(filesystems) > 1:
                return 8, '', 'ambivalent result'
            lines = ['DEVNAME=%s' % argv[-1].replace(' ', '\\ ')]
            if filesystems:
                entry = filesystems[0]
                if entry['label'] is not None:
                    lines.append('LABEL=%s' % entry['label'].replace(' ', '\\ '))
                if entry['uuid'] is not None:
                    lines.append('UUID=%s' % entry['uuid'])
                lines += ['TYPE=%s' % entry['type'], 'USAGE=%s' % entry['usage']]
            if tables:
                lines += ['PTTYPE=%s' % tables[0]['type']]
            out = '\n'.join(lines) + '\n'
        elif name == 'wipefs' and '--no-act' in argv:
            out = json.dumps({'signatures': [dict(entry, device=argv[-1]) for entry in self.signatures]})
        elif name == 'wipefs':
            # without --force, wipefs leaves a partition table in an image file alone; --types noA,B spares A and B
            types = self.option(argv, '--types')
            spared = types[2:].split(',') if types and types.startswith('no') else []
            assert types is None or spared, 'the fake knows --types noTYPE,... only'
            self.signatures = [entry for entry in self.signatures if entry['type'] in spared or (
                entry['usage'] == 'partition-table' and '--force' not in argv)]
        elif name.startswith('mkfs.') or name in MKFS_TYPES:
            self.mkfs(argv, MKFS_TYPES.get(name) or name.split('.', 1)[1])
        elif name in ('tune2fs', 'swaplabel', 'tunegfs2', 'reiserfstune'):
            label_flag, uuid_flag = ('-l', '-u') if name == 'reiserfstune' else ('-L', '-U')
            if label_flag in argv:
                fs['label'] = self.option(argv, label_flag)
            if uuid_flag in argv:
                fs['uuid'] = self.blkid_uuid(fs['type'], self.option(argv, uuid_flag))
        elif name == 'xfs_db' and '-r' in argv:
            out = 'dblocks = %(dblocks)d\nblocksize = %(blocksize)d\nagblocks = %(agblocks)d\n' % self.xfs
        elif name == 'xfs_db':
            for index, arg in enumerate(argv):
                if arg == '-c':
                    key, value = argv[index + 1].split(' ', 1)
                    fs[key] = self.blkid_uuid('xfs', value) if key == 'uuid' else value
        elif name == 'xfs_info':
            out = XFS_INFO.format(**self.xfs)
        elif name == 'xfs_growfs':
            # the kernel drops a last allocation group of fewer than 64 blocks
            blocks = self.mounted_size() // self.xfs['blocksize']
            rest = blocks % self.xfs['agblocks']
            self.xfs['dblocks'] = blocks - rest if rest < 64 else blocks
        elif name == 'btrfs' and argv[1:3] == ['filesystem', 'show']:
            out = ("Label: none  uuid: %s\n\tTotal devices 1 FS bytes used 147456\n"
                   "\tdevid    %d size %d used 92274688 path /dev/loop3\n\n"
                   % (fs['uuid'], self.btrfs['devid'], self.btrfs['size']))
        elif name == 'btrfs' and argv[1:3] == ['filesystem', 'resize']:
            size = self.mounted_size()
            self.btrfs['size'] = size - size % 4096
        elif name == 'btrfs':
            fs['label'] = argv[-1]
        elif name == 'btrfstune':
            fs['uuid'] = self.option(argv, '-U')
        elif name == 'fatlabel':
            if '-i' in argv:
                fs['uuid'] = self.blkid_uuid('vfat', argv[-1])
            else:
                fs['label'] = argv[-1]
        elif name == 'f2fslabel':
            fs['label'] = argv[-1]
        elif name == 'tunefs.ocfs2':
            if '-L' in argv:
                fs['label'] = self.option(argv, '-L')
            if self.option(argv, '--uuid-reset') is not None:
                fs['uuid'] = self.option(argv, '--uuid-reset')
        elif name == 'pvchange':
            fs['uuid'] = self.new_uuid('LVM2_member')
        elif name == 'pvs':
            out = json.dumps({'report': [{'pv': [{'pv_size': str(self.pv['pv_size']),
                                                  'dev_size': str(self.pv['dev_size']), 'pv_uuid': fs['uuid']}]}]})
        elif name == 'pvresize':
            self.pv['pv_size'] = self.pv['dev_size']
        elif name == 'resize.f2fs':
            craft_f2fs(argv[-1], os.path.getsize(argv[-1]) // 4096)
        elif name == 'losetup' and '--set-capacity' in argv:
            self.loop_sizes[argv[-1]] = os.path.getsize(self.loop_files[argv[-1]])
        elif name == 'losetup':
            out = ''.join(loop + '\n' for loop in self.loops)
        elif name == 'dumpe2fs':
            out = ''.join('%s:  %s\n' % item for item in self.ext.items())
        elif name == 'resize2fs':
            dev = argv[-1]
            size = self.loop_sizes[dev] if dev in self.loop_sizes else os.path.getsize(dev)
            self.ext['Block count'] = str(size // int(self.ext['Block size']))
        return 0, out, ''

    def mounted_size(self):
        return self.loop_sizes[self.loops[0]]


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
    def users(tools):
        return Users(tools, mountinfo=str(tmp_path / 'mountinfo'), swaps=str(tmp_path / 'swaps'),
                     sys_dev_block=str(tmp_path / 'sys'))

    monkeypatch.setattr(mkfs_task, 'Tools', lambda: Tools(runner=device, which=sbin))
    monkeypatch.setattr(mkfs_task, 'Users', users)

    def run(args, **kwargs):
        return run_module(mkfs.main, args, **kwargs)

    run.device = device
    return run


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning: seen.append(warning))
    return seen


@pytest.fixture
def mount(monkeypatch, device):
    """Attach an image to a (pretended) loop device mounted on ``point``; the loop device sees ``loop_size``."""
    def attach(image, point='/mnt/eph', loop='/dev/loop3', loop_size=None):
        device.loops = [loop]
        device.loop_files[loop] = image
        device.loop_sizes[loop] = os.path.getsize(image) if loop_size is None else loop_size
        monkeypatch.setattr(Users, 'block_device_usage',
                            lambda self, path, online=False: ([point], []) if path == loop else ([], []))
        real_size = probe.device_size
        monkeypatch.setattr(probe, 'device_size',
                            lambda path: device.loop_sizes[path] if path in device.loop_sizes else real_size(path))

    return attach


@pytest.fixture
def as_block_device(monkeypatch):
    """Make ``path`` pass for a block device (lvm refuses regular files)."""
    def pretend(path):
        real_kind = mkfs_task.path_kind
        monkeypatch.setattr(mkfs_task, 'path_kind', lambda other: BLOCK_DEVICE if other == path else real_kind(other))

    return pretend


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
    make_room(image, fstype)
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
    assert out.result['size'] == os.path.getsize(image) and out.result['dev'] == image
    assert module.device.calls[0] == ['/sbin/blkid', '-p', '-c', '/dev/null', '-o', 'export', '--', image]


def test_opts_as_a_string_or_a_list(module, image):
    module({'dev': image, 'fstype': 'ext4', 'opts': "-m 1 -O 'metadata_csum_seed'"})
    assert module.device.changing_calls()[-1] == [
        '/sbin/mkfs.ext4', '-E', 'nodiscard', '-m', '1', '-O', 'metadata_csum_seed', '--', image]
    module.device.signatures = []
    make_room(image, 'xfs')
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
    # the diff shows the size of the file system (16384 blocks of 4 KiB)
    assert out.result['diff']['before']['size'] == 64 * MiB


def test_force_remakes_a_file_system_of_the_same_type(module, image):
    # as community.general.filesystem does: force makes it anew, with a new UUID, on every run
    make_room(image, 'xfs')
    module.device.put('xfs', 'scratch', OTHER_UUID)
    module.device.xfs = {'dblocks': 131072, 'blocksize': 4096, 'agblocks': 32768}   # fills the 512 MiB image
    args = {'dev': image, 'fstype': 'xfs', 'label': 'scratch', 'force': True}
    # mkfs.xfs writes over it with its own -f; nothing else is there to wipe
    plan = [['/sbin/mkfs.xfs', '-f', '-L', 'scratch', '--', image]]
    check = module(args, check_mode=True)
    assert check.result['changed'] and check.result['commands'] == plan and module.device.changing_calls() == []
    out = module(args, diff=True)
    assert not out.failed and out.result['changed']
    assert out.result['commands'] == plan and module.device.changing_calls() == plan
    assert out.result['diff']['before']['signatures'] == ['xfs']
    assert out.result['uuid'] not in (None, OTHER_UUID) and out.result['label'] == 'scratch'
    again = module(args)
    assert again.result['changed'] and module.device.changing_calls() == plan + plan
    assert again.result['uuid'] != out.result['uuid']
    # with resizefs or uuid, force keeps it and adjusts it
    module.device.calls = []
    out = module(dict(args, resizefs=True))
    assert not out.failed and out.result['changed'] is False and module.device.changing_calls() == []
    out = module(dict(args, uuid=UUID))
    assert not out.failed and module.device.changing_calls() == [
        ['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid ' + UUID, '--', image]]
    assert out.result['label'] == 'scratch' and out.result['uuid'] == UUID


def test_same_type_is_found_without_a_label_asked_for(module, image):
    module.device.put('btrfs', 'whatever')
    out = module({'dev': image, 'fstype': 'btrfs'})
    assert out.result['changed'] is False and out.result['label'] == 'whatever'


@pytest.mark.parametrize('fstype, args, argv', [
    # ext4dev is made by mkfs.ext4; blkid reports it as ext4
    ('ext4dev', {'label': 'eph0'}, ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-L', 'eph0', '--', '{dev}']),
    ('f2fs', {'label': 'data', 'uuid': UUID}, ['/sbin/mkfs.f2fs', '-l', 'data', '-U', UUID, '--', '{dev}']),
    ('reiserfs', {'label': 'old', 'uuid': UUID}, ['/sbin/mkfs.reiserfs', '-q', '-l', 'old', '-u', UUID, '--', '{dev}']),
    ('ocfs2', {'label': 'shared', 'uuid': UUID, 'opts': '-M local'},
     ['/sbin/mkfs.ocfs2', '-q', '-F', '-x', '-L', 'shared', '-U', UUID, '-M', 'local', '--', '{dev}']),
    # mkfs.gfs2 takes no "--"
    ('gfs2', {'label': 'hv:images'}, ['/sbin/mkfs.gfs2', '-O', '-t', 'hv:images', '{dev}']),
    ('gfs2', {'opts': '-p lock_nolock', 'uuid': UUID}, ['/sbin/mkfs.gfs2', '-O', '-U', UUID, '-p', 'lock_nolock', '{dev}']),
])
def test_makes_the_other_file_systems(module, image, fstype, args, argv):
    argv = [image if arg == '{dev}' else arg for arg in argv]
    params = dict(args, dev=image, fstype=fstype)
    out = module(params, diff=True)
    assert not out.failed and out.result['changed'] is True
    assert module.device.changing_calls() == [argv] and out.result['commands'] == [argv]
    assert out.result['fstype'] == fstype and out.result['label'] == args.get('label')
    assert out.result['uuid'] == args.get('uuid', out.result['uuid']) and out.result['uuid']
    # the diff names the type as fstype does, in check mode and for real
    assert out.result['diff']['after']['fstype'] == fstype
    again = module(params)
    assert again.result['changed'] is False and len(module.device.changing_calls()) == 1


@pytest.mark.parametrize('args, argv', [
    ({}, ['/sbin/pvcreate', '--', '{dev}']),
    ({'uuid': LVM_ID}, ['/sbin/pvcreate', '-u', LVM_ID, '--norestorefile', '--', '{dev}']),
    ({'opts': ['--dataalignment', '1m']}, ['/sbin/pvcreate', '--dataalignment', '1m', '--', '{dev}']),
])
def test_makes_a_physical_volume_on_a_block_device(module, image, as_block_device, args, argv):
    as_block_device(image)
    argv = [image if arg == '{dev}' else arg for arg in argv]
    params = dict(args, dev=image, fstype='lvm')
    out = module(params)
    assert not out.failed and module.device.changing_calls() == [argv]
    assert out.result['fstype'] == 'lvm' and out.result['label'] is None
    assert out.result['uuid'] == args.get('uuid', out.result['uuid']) and out.result['uuid']
    again = module(params)
    assert again.result['changed'] is False and len(module.device.changing_calls()) == 1


def test_lvm_on_a_regular_file_is_refused(module, image):
    out = module({'dev': image, 'fstype': 'lvm'})
    assert out.failed and module.device.calls == []
    assert '%s is a regular file; pvcreate makes an LVM physical volume on a block device only' % image in out.result['msg']
    assert 'losetup --find --show %s' % image in out.result['msg']
    # erasing a physical volume in an image file is fine
    module.device.put('LVM2_member')
    out = module({'dev': image, 'fstype': 'lvm', 'state': 'absent'})
    assert not out.failed and module.device.changing_calls() == [['/sbin/wipefs', '--all', '--', image]]


def test_gfs2_with_lock_nolock_needs_no_label(module, image):
    args = {'dev': image, 'fstype': 'gfs2', 'opts': ['-p', 'lock_nolock', '-j', '1']}
    out = module(args)
    assert not out.failed and out.result['label'] is None
    assert module.device.changing_calls() == [['/sbin/mkfs.gfs2', '-O', '-p', 'lock_nolock', '-j', '1', image]]
    assert module(args).result['changed'] is False


def test_an_existing_gfs2_needs_no_label_to_be_left_alone(module, image):
    # the lock table is only needed to make the file system
    module.device.put('gfs2', 'hv:images')
    out = module({'dev': image, 'fstype': 'gfs2'})
    assert not out.failed and out.result['changed'] is False and out.result['label'] == 'hv:images'
    assert module.device.changing_calls() == []


@pytest.mark.parametrize('opts', [None, '-p lock_dlm'])
def test_a_new_gfs2_needs_a_lock_table(module, image, opts):
    out = module({'dev': image, 'fstype': 'gfs2', 'opts': opts})
    assert out.failed and 'gfs2 needs its lock table as label, CLUSTER:NAME' in out.result['msg']
    assert 'or opts: -p lock_nolock' in out.result['msg']
    assert module.device.changing_calls() == []


# -- UUID keywords -----------------------------------------------------------------------------

@pytest.mark.parametrize('fstype, keyword, make, change', [
    ('ext4', 'random', ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-U', 'random'], ['/sbin/tune2fs', '-U', 'random']),
    ('ext3', 'time', ['/sbin/mkfs.ext3', '-E', 'nodiscard', '-U', 'time'], ['/sbin/tune2fs', '-U', 'time']),
    ('xfs', 'generate', ['/sbin/mkfs.xfs'], ['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid generate']),
    ('swap', 'random', ['/sbin/mkswap', '-U', 'random'], ['/sbin/mkswap', '-U', 'random']),
    ('reiserfs', 'random', ['/sbin/mkfs.reiserfs', '-q'], ['/sbin/reiserfstune', '-u', 'random']),
    ('lvm', 'random', ['/sbin/pvcreate'], ['/sbin/pvchange', '--uuid']),
])
def test_a_new_uuid_keyword_changes_the_uuid_on_every_run(module, image, as_block_device, fstype, keyword, make,
                                                          change):
    if fstype == 'lvm':
        as_block_device(image)
    make_room(image, fstype)
    args = {'dev': image, 'fstype': fstype, 'uuid': keyword.upper()}
    steps = [module(args), module(args), module(args, check_mode=True), module(args)]
    assert [step.failed for step in steps] == [False] * 4
    assert [step.result['changed'] for step in steps] == [True] * 4
    assert module.device.changing_calls() == [make + ['--', image], change + ['--', image], change + ['--', image]]
    assert steps[2].result['commands'] == [change + ['--', image]]
    uuids = [steps[0].result['uuid'], steps[1].result['uuid'], steps[3].result['uuid']]
    assert None not in uuids and len(set(uuids)) == 3 and keyword not in uuids


@pytest.mark.parametrize('fstype, keyword, change', [
    ('ext4', 'clear', ['/sbin/tune2fs', '-U', 'clear']),
    ('xfs', 'nil', ['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid nil']),
    # swaplabel takes UUIDs only; mkswap again, keeping the label
    ('swap', 'clear', ['/sbin/mkswap', '-L', 'old', '-U', 'clear']),
])
def test_a_nil_uuid_keyword_is_idempotent(module, image, fstype, keyword, change):
    module.device.put(fstype, 'old', OTHER_UUID)
    args = {'dev': image, 'fstype': fstype, 'uuid': keyword}
    check = module(args, check_mode=True)
    out = module(args, diff=True)
    assert check.result['commands'] == out.result['commands'] == [change + ['--', image]]
    assert out.result['changed'] and out.result['uuid'] is None and out.result['label'] == 'old'
    assert out.result['diff']['before']['uuid'] == OTHER_UUID and out.result['diff']['after']['uuid'] is None
    steps = [module(args), module(args, check_mode=True)]
    assert [step.result['changed'] for step in steps] == [False, False]
    assert module.device.changing_calls() == [change + ['--', image]]


def test_a_nil_uuid_reported_by_blkid_counts_as_cleared(module, image):
    module.device.put('ext4', 'old', NIL_UUID)
    out = module({'dev': image, 'fstype': 'ext4', 'uuid': 'clear'})
    assert not out.failed and out.result['changed'] is False and module.device.changing_calls() == []


@pytest.mark.parametrize('fstype, keyword, argvs', [
    ('ext4', 'clear', [['/sbin/mkfs.ext4', '-E', 'nodiscard', '-U', 'clear', '--', '{dev}']]),
    # mkfs.xfs takes no nil UUID: xfs_db sets it afterwards
    ('xfs', 'nil', [['/sbin/mkfs.xfs', '--', '{dev}'],
                    ['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid nil', '--', '{dev}']]),
])
def test_a_new_file_system_with_a_nil_uuid(module, image, fstype, keyword, argvs):
    argvs = [[image if arg == '{dev}' else arg for arg in argv] for argv in argvs]
    make_room(image, fstype)
    args = {'dev': image, 'fstype': fstype, 'uuid': keyword}
    check = module(args, check_mode=True)
    out = module(args)
    assert check.result['commands'] == out.result['commands'] == argvs == module.device.changing_calls()
    assert out.result['uuid'] is None and check.result['uuid'] is None
    assert module(args).result['changed'] is False


# -- a label or UUID in opts -------------------------------------------------------------------

def test_a_label_in_opts_wins_and_is_compared_on_later_runs(module, image, warnings):
    args = {'dev': image, 'fstype': 'ext4', 'label': 'eph0', 'opts': '-m 1 -L other'}
    made = ['/sbin/mkfs.ext4', '-E', 'nodiscard', '-m', '1', '-L', 'other', '--', image]
    check = module(args, check_mode=True)
    out = module(args)
    assert check.result['commands'] == out.result['commands'] == [made] == module.device.changing_calls()
    assert check.result['label'] == out.result['label'] == 'other'
    assert warnings == ["opts sets the label to 'other', which wins over label ('eph0')."] * 2
    assert module(args).result['changed'] is False
    module.device.fs['label'] = 'eph0'
    again = module(args)
    assert again.result['changed'] and again.result['commands'] == [['/sbin/tune2fs', '-L', 'other', '--', image]]
    assert again.result['label'] == 'other'


@pytest.mark.parametrize('fstype, opts, argv', [
    ('btrfs', ['--label=data'], ['/sbin/mkfs.btrfs', '--label=data']),
    ('vfat', '-n DATA', ['/sbin/mkfs.vfat', '-n', 'DATA']),
    ('xfs', ['-Ldata'], ['/sbin/mkfs.xfs', '-Ldata']),
    ('swap', '-L a --label data', ['/sbin/mkswap', '-L', 'a', '--label', 'data']),   # the last one wins
])
def test_a_label_only_in_opts_is_the_label(module, image, warnings, fstype, opts, argv):
    make_room(image, fstype)
    out = module({'dev': image, 'fstype': fstype, 'opts': opts, 'label': 'data'})
    assert not out.failed and out.result['commands'] == [argv + ['--', image]]
    assert out.result['label'] == module.device.fs['label'] == ('DATA' if fstype == 'vfat' else 'data')
    assert warnings == (["opts sets the label to 'DATA', which wins over label ('data')."] if fstype == 'vfat' else [])


def test_a_uuid_in_xfs_metadata_opts_wins_and_is_compared_on_later_runs(module, image, warnings):
    make_room(image, 'xfs')
    args = {'dev': image, 'fstype': 'xfs', 'uuid': OTHER_UUID, 'opts': '-m crc=1,uuid=' + UUID}
    made = ['/sbin/mkfs.xfs', '-m', 'crc=1,uuid=' + UUID, '--', image]
    check = module(args, check_mode=True)
    out = module(args)
    assert check.result['commands'] == out.result['commands'] == [made] == module.device.changing_calls()
    assert check.result['uuid'] == out.result['uuid'] == UUID
    assert warnings == ["opts sets the UUID to %r, which wins over uuid (%r)." % (UUID, OTHER_UUID)] * 2
    assert module(args).result['changed'] is False
    module.device.fs['uuid'] = OTHER_UUID
    again = module(args)
    assert again.result['commands'] == [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid ' + UUID, '--', image]]
    assert again.result['uuid'] == UUID


def test_a_uuid_keyword_in_opts_is_for_mkfs_only(module, image, warnings):
    # it wins over uuid, and does not ask to change the UUID of an existing file system
    args = {'dev': image, 'fstype': 'ext4', 'uuid': UUID, 'opts': '-U random'}
    out = module(args)
    assert not out.failed
    assert out.result['commands'] == [['/sbin/mkfs.ext4', '-E', 'nodiscard', '-U', 'random', '--', image]]
    assert out.result['uuid'] not in (None, UUID)
    again = module(args)
    assert not again.failed and again.result['changed'] is False and again.result['uuid'] == out.result['uuid']
    assert warnings == ["opts sets the UUID to 'random', which wins over uuid (%r)." % UUID] * 2


# A UUID in opts written otherwise than blkid reports it (a vfat volume ID without its dash, an upper-case UUID)
# is predicted, and checked after mkfs, in blkid's form.
@pytest.mark.parametrize('fstype, opts, uuid', [
    ('vfat', '-i 1a2b3c4d', '1A2B-3C4D'),
    ('ext4', '-U ' + UUID.upper(), UUID),
])
def test_a_uuid_in_opts_is_compared_as_blkid_reports_it(module, image, fstype, opts, uuid):
    out = module({'dev': image, 'fstype': fstype, 'opts': opts})
    assert not out.failed and out.result['uuid'] == uuid


# The same UUID in uuid and in opts, written differently, is no conflict.
def test_the_same_uuid_in_uuid_and_opts_gives_no_warning(module, image, warnings):
    module({'dev': image, 'fstype': 'ext4', 'uuid': UUID, 'opts': '-U ' + UUID.upper()}, check_mode=True)
    assert warnings == []


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


def test_force_makes_then_wipes_the_other_types(module, image):
    # mkfs first, with its own force flag; then wipefs erases what it left of other types, never the new one
    module.device.put('ext4', 'old')
    out = module({'dev': image, 'fstype': 'vfat', 'label': 'NEW', 'force': True}, diff=True)
    assert not out.failed and out.result['changed']
    assert module.device.changing_calls() == [
        ['/sbin/mkfs.vfat', '-I', '-n', 'NEW', '--', image],
        ['/sbin/wipefs', '--all', '--types', 'novfat', '--', image],
    ]
    assert out.result['commands'] == module.device.changing_calls()
    assert out.result['fstype'] == 'vfat' and out.result['label'] == 'NEW'
    assert out.result['diff']['before']['fstype'] == 'ext4' and out.result['diff']['before']['signatures'] == ['ext4']
    assert out.result['diff']['after']['fstype'] == 'vfat'


def test_force_erases_a_partition_table_mkfs_left_with_wipefs_force(module, image):
    # mkfs.vfat leaves the backup GPT header at the end of the device; wipefs --force erases it afterwards
    module.device.put_partition_table('gpt')
    module.device.mkfs_leaves = {'gpt'}
    out = module({'dev': image, 'fstype': 'vfat', 'force': True})
    assert not out.failed and module.device.changing_calls() == [
        ['/sbin/mkfs.vfat', '-I', '--', image],
        ['/sbin/wipefs', '--all', '--force', '--types', 'novfat', '--', image],
    ]
    assert [entry['type'] for entry in module.device.signatures] == ['vfat']
    assert out.result['fstype'] == 'vfat'


@pytest.mark.parametrize('fstype, flags, keep', [
    ('ext4', ['-F', '-E', 'nodiscard'], 'noext4,ext4dev'),
    ('ext4dev', ['-F', '-E', 'nodiscard'], 'noext4dev,ext4'),
    ('xfs', ['-f'], 'noxfs'),
    ('btrfs', ['-f'], 'nobtrfs'),
    ('f2fs', ['-f'], 'nof2fs'),
    ('swap', ['-f'], 'noswap'),
    ('reiserfs', ['-q', '-f'], 'noreiserfs'),
    ('ocfs2', ['-q', '-F', '-x'], 'noocfs2'),
    ('gfs2', ['-O', '-p', 'lock_nolock'], 'nogfs2'),
])
def test_force_runs_mkfs_with_its_force_flag_before_wipefs(module, image, fstype, flags, keep):
    module.device.put('crypto_LUKS')
    make_room(image, fstype)
    args = {'dev': image, 'fstype': fstype, 'force': True}
    if fstype == 'gfs2':
        args['opts'] = '-p lock_nolock'
    tool = {'swap': 'mkswap', 'ext4dev': 'mkfs.ext4'}.get(fstype, 'mkfs.' + fstype)
    plan = [['/sbin/' + tool] + flags + ([] if fstype == 'gfs2' else ['--']) + [image],
            ['/sbin/wipefs', '--all', '--types', keep, '--', image]]
    check = module(args, check_mode=True)
    assert check.result['commands'] == plan and module.device.changing_calls() == []
    out = module(args)
    assert not out.failed and module.device.changing_calls() == plan == out.result['commands']
    assert out.result['fstype'] == fstype


def test_force_makes_a_physical_volume_with_pvcreate_f(module, image, as_block_device):
    as_block_device(image)
    module.device.put('ext4')
    out = module({'dev': image, 'fstype': 'lvm', 'force': True})
    assert not out.failed and module.device.changing_calls() == [
        ['/sbin/pvcreate', '-f', '--', image], ['/sbin/wipefs', '--all', '--types', 'noLVM2_member', '--', image]]


def test_force_in_check_mode_runs_nothing(module, image):
    module.device.put('swap')
    out = module({'dev': image, 'fstype': 'ext4', 'force': True}, check_mode=True)
    assert out.result['changed'] and module.device.changing_calls() == []
    assert [argv[0] for argv in out.result['commands']] == ['/sbin/mkfs.ext4', '/sbin/wipefs']


@pytest.mark.parametrize('check_mode', [True, False])
def test_force_when_mkfs_fails_wipes_nothing(module, image, check_mode):
    make_room(image, 'xfs')
    module.device.put('ext4', 'old', OTHER_UUID)
    module.device.fail_on['mkfs.xfs'] = (1, 'mkfs.xfs: cannot open device: Device or resource busy')
    out = module({'dev': image, 'fstype': 'xfs', 'force': True}, check_mode=check_mode)
    if check_mode:
        # check mode cannot foresee a failure of the tool itself; it names both commands
        assert not out.failed and [argv[0] for argv in out.result['commands']] == ['/sbin/mkfs.xfs', '/sbin/wipefs']
        assert module.device.changing_calls() == []
    else:
        assert out.failed and out.result['rc'] == 1 and 'Device or resource busy' in out.result['msg']
        assert module.device.changing_calls() == [['/sbin/mkfs.xfs', '-f', '--', image]]
    assert module.device.signatures == [{'type': 'ext4', 'usage': 'filesystem', 'label': 'old', 'uuid': OTHER_UUID,
                                         'offset': '0x438'}]


@pytest.mark.parametrize('force', [False, True])
@pytest.mark.parametrize('check_mode', [True, False])
@pytest.mark.parametrize('fstype, size, smallest', [
    ('xfs', 64 * MiB, '300.0 MiB (314572800 bytes)'),
    ('xfs', 300 * MiB - 512, '300.0 MiB (314572800 bytes)'),
    ('btrfs', 108 * MiB, '109.0 MiB (114294784 bytes)'),
    ('f2fs', 51 * MiB, '52.0 MiB (54525952 bytes)'),
    ('reiserfs', 32 * MiB, '32.1 MiB (33636352 bytes)'),
    ('ocfs2', 8 * MiB, '10.5 MiB (11042816 bytes)'),
    ('gfs2', 15 * MiB, '16.0 MiB (16777216 bytes)'),
    ('ext4', 100 * 1024, '104.0 KiB (106496 bytes)'),
    ('vfat', 48 * 1024, '50.0 KiB (51200 bytes)'),
])
def test_a_device_too_small_is_refused_before_anything_runs(module, tmp_path, fstype, size, smallest, check_mode,
                                                            force):
    path = str(tmp_path / 'small.raw')
    truncate(path, size)
    module.device.put('swap' if fstype == 'ext4' else 'ext4', 'old', OTHER_UUID)
    before = [dict(entry) for entry in module.device.signatures]
    args = {'dev': path, 'fstype': fstype, 'force': force}
    if fstype == 'gfs2':
        args['label'] = 'hv:images'
    out = module(args, check_mode=check_mode)
    assert out.failed and module.device.changing_calls() == []
    assert module.device.signatures == before
    if force:
        assert 'makes a%s %s' % ('n' if fstype[0] in 'aeiox' else '', fstype) in out.result['msg']
        assert 'on %s or more only' % smallest in out.result['msg']
        assert path in out.result['msg'] and 'Nothing was changed' in out.result['msg']
        assert 'Grow the image' in out.result['msg']
    else:
        assert 'force: true' in out.result['msg']   # refused for what is there first, as before


@pytest.mark.parametrize('fstype, opts, size', [
    ('btrfs', '--mixed', 16 * MiB),
    ('btrfs', '-M', 16 * MiB),
    ('ocfs2', '-M local', 6684 * 1024),
    ('xfs', None, 300 * MiB),
    ('swap', None, 10 * os.sysconf('SC_PAGE_SIZE')),
])
def test_the_smallest_device_each_type_is_made_on(module, tmp_path, fstype, opts, size):
    path = str(tmp_path / 'small.raw')
    truncate(path, size)
    args = {'dev': path, 'fstype': fstype, 'opts': opts}
    assert not module(args).failed
    module.device.signatures = []
    truncate(path, size - 512)
    out = module(args)
    assert out.failed and 'or more only' in out.result['msg'] and 'Nothing was changed' in out.result['msg']


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

@pytest.mark.parametrize('fstype', ['xfs', 'ext4'])
def test_a_loop_mounted_image_is_refused_even_with_force(module, image, mount, fstype):
    # ext4: force would make the file system of the same type anew
    module.device.put('ext4')
    make_room(image, fstype)
    mount(image)
    out = module({'dev': image, 'fstype': fstype, 'force': True})
    assert out.failed
    assert 'attached to /dev/loop3, which is mounted on /mnt/eph' in out.result['msg']
    assert 'even with force' in out.result['msg']
    assert module.device.changing_calls() == []


def test_a_mounted_image_with_the_right_file_system_is_fine(module, image, mount):
    module.device.put('ext4', 'eph0')
    mount(image)
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'eph0'})
    assert not out.failed and not out.result['changed']
    assert not any(call[0] == '/sbin/losetup' for call in module.device.calls)


def test_relabelling_a_mounted_image_is_refused(module, image, mount):
    module.device.put('ext4', 'eph0')
    mount(image)
    out = module({'dev': image, 'fstype': 'ext4', 'label': 'other'}, check_mode=True)
    assert out.failed and 'is in use' in out.result['msg'] and 'does not change' in out.result['msg']


def test_an_active_swap_file_is_refused(module, image, tmp_path):
    module.device.put('swap', 'old')
    (tmp_path / 'swaps').write_text('Filename Type Size Used Priority\n%s file 4 0 -2\n'
                                    % image.replace(' ', '\\040'))
    out = module({'dev': image, 'fstype': 'swap', 'label': 'new'})
    assert out.failed and 'an active swap file' in out.result['msg']


def test_a_block_device_is_checked_and_locked(module, image, monkeypatch):
    real_kind = mkfs_task.path_kind
    monkeypatch.setattr(mkfs_task, 'path_kind', lambda path: BLOCK_DEVICE if path == image else real_kind(path))
    seen = []
    monkeypatch.setattr(Users, 'block_device_users', lambda self, path: seen.append(path) or [])
    locked = []
    real_lock = mkfs_task.DeviceLock

    class RecordingLock(real_lock):
        def __enter__(self):
            locked.append(self.path)
            return real_lock.__enter__(self)

    monkeypatch.setattr(mkfs_task, 'DeviceLock', RecordingLock)
    out = module({'dev': image, 'fstype': 'ext4'})
    assert not out.failed and seen == [image] and locked == [image]
    # no -E nodiscard on a device, and no lock file beside it
    assert module.device.changing_calls() == [['/sbin/mkfs.ext4', '--', image]]
    assert os.listdir(os.path.dirname(image)) == [os.path.basename(image)]


def test_a_busy_block_device_is_refused(module, image, monkeypatch):
    real_kind = mkfs_task.path_kind
    monkeypatch.setattr(mkfs_task, 'path_kind', lambda path: BLOCK_DEVICE if path == image else real_kind(path))
    monkeypatch.setattr(Users, 'block_device_users', lambda self, path: ['held by dm-0'])
    out = module({'dev': image, 'fstype': 'ext4'})
    assert out.failed and 'held by dm-0' in out.result['msg'] and module.device.changing_calls() == []


# -- labels and UUIDs of existing file systems --------------------------------------------------

@pytest.mark.parametrize('fstype, args, argvs', [
    ('ext4', {'label': 'new'}, [['/sbin/tune2fs', '-L', 'new']]),
    ('ext4', {'label': 'new', 'uuid': UUID}, [['/sbin/tune2fs', '-L', 'new', '-U', UUID]]),
    ('xfs', {'uuid': UUID}, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid ' + UUID]]),
    ('btrfs', {'label': 'new one'}, [['/sbin/btrfs', 'filesystem', 'label', '--']]),
    ('btrfs', {'uuid': UUID}, [['/sbin/btrfstune', '-f', '-U', UUID, '--']]),
    ('vfat', {'label': 'NEW', 'uuid': '1A2B3C4D'}, [['/sbin/fatlabel', '--'], ['/sbin/fatlabel', '-i', '--']]),
    ('swap', {'label': 'new', 'uuid': UUID}, [['/sbin/swaplabel', '-L', 'new', '-U', UUID]]),
    ('ext4dev', {'label': 'new'}, [['/sbin/tune2fs', '-L', 'new', '--']]),
    ('f2fs', {'label': 'new'}, [['/sbin/f2fslabel', '--']]),
    ('reiserfs', {'label': 'new', 'uuid': UUID}, [['/sbin/reiserfstune', '-l', 'new', '-u', UUID, '--']]),
    ('ocfs2', {'label': 'new', 'uuid': UUID}, [['/sbin/tunefs.ocfs2', '--yes', '-L', 'new', '--'],
                                               ['/sbin/tunefs.ocfs2', '--yes', '--uuid-reset=' + UUID, '--']]),
    ('gfs2', {'label': 'hv:new', 'uuid': UUID}, [['/sbin/tunegfs2', '-L', 'hv:new', '-U', UUID]]),
])
def test_label_and_uuid_are_changed_with_the_file_systems_tool(module, image, fstype, args, argvs):
    blkid_type = 'ext4' if fstype == 'ext4dev' else fstype
    module.device.put(blkid_type, 'hv:old' if fstype == 'gfs2' else 'old', '0000-0000' if fstype == 'vfat' else OTHER_UUID)
    if fstype == 'btrfs':
        craft_btrfs(image, 1, 64 * MiB)   # the diff reads the size of the file system
    out = module(dict(args, dev=image, fstype=fstype), diff=True)
    assert not out.failed and out.result['changed']
    calls = module.device.changing_calls()
    assert len(calls) == len(argvs)
    for call, prefix in zip(calls, argvs):
        assert call[:len(prefix)] == prefix and image in call
    old = module.device.fs['label'] if 'label' not in args else ('hv:old' if fstype == 'gfs2' else 'old')
    assert out.result['label'] == args.get('label', old) and out.result['fstype'] == fstype
    assert out.result['diff']['before']['label'] == old
    assert out.result['diff']['after']['label'] == args.get('label', old)
    if 'uuid' in args:
        wanted = TYPES[fstype].normalize_uuid(args['uuid'])
        assert out.result['diff']['after']['uuid'] == out.result['uuid'] == wanted
    again = module(dict(args, dev=image, fstype=fstype))
    assert again.result['changed'] is False


@pytest.mark.parametrize('fstype, uuid, fragment', [
    ('f2fs', UUID, 'the UUID of an existing f2fs file system cannot be changed by this module'),
    ('lvm', LVM_ID, 'the UUID of an existing lvm physical volume cannot be changed by this module'),
])
def test_a_uuid_no_tool_changes_in_place_fails(module, image, as_block_device, fstype, uuid, fragment):
    as_block_device(image)
    module.device.put('LVM2_member' if fstype == 'lvm' else fstype, None, OTHER_UUID)
    out = module({'dev': image, 'fstype': fstype, 'uuid': uuid})
    assert out.failed and fragment in out.result['msg'] and 'state: absent' in out.result['msg']
    assert module.device.changing_calls() == []


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


@pytest.mark.parametrize('args, tool, package', [
    ({'fstype': 'btrfs', 'label': 'new'}, 'btrfs', 'btrfs-progs'),
    ({'fstype': 'ext4', 'label': 'new'}, 'tune2fs', 'e2fsprogs'),
    ({'fstype': 'swap', 'state': 'absent'}, 'wipefs', 'util-linux'),
])
def test_a_tool_that_cannot_be_executed_fails_naming_it_and_its_package(module, image, monkeypatch, args, tool,
                                                                        package):
    module.device.put(args['fstype'], 'old')

    def which(name, wanted_package):
        if name == tool:
            raise ToolNotFoundError('%s cannot be executed. Reinstall the package %s.' % (name, wanted_package))
        return sbin(name, wanted_package)

    monkeypatch.setattr(mkfs_task, 'Tools', lambda: Tools(runner=module.device, which=which))
    out = module(dict(args, dev=image))
    assert out.failed and out.result['msg'] == '%s cannot be executed. Reinstall the package %s.' % (tool, package)
    assert module.device.changing_calls() == []


def test_ocfs2_is_made_without_asking_a_cluster_stack(module, image):
    # as community.general.filesystem makes it: -F (the module decided), -x (no cluster stack check)
    out = module({'dev': image, 'fstype': 'ocfs2'})
    assert not out.failed and module.device.changing_calls() == [['/sbin/mkfs.ocfs2', '-q', '-F', '-x', '--', image]]


def test_mkfs_that_leaves_something_else_fails(module, image):
    module.device.fail_on['mkfs.ext4'] = (1, 'mkfs.ext4: Device size reported to be zero.')
    out = module({'dev': image, 'fstype': 'ext4'})
    assert out.failed and out.result['rc'] == 1 and 'Device size reported to be zero' in out.result['stderr']


# -- parameters ----------------------------------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    ({'uuid': 'generate'}, "uuid: 'generate' is not a valid ext4 UUID"),
    ({'uuid': 'generate'}, 'or one of the keywords clear, random, time'),
    ({'uuid': 'nope'}, 'not a valid ext4 UUID'),
    ({'label': 'x' * 17}, 'at most 16'),
    ({'opts': '-E "unclosed'}, 'cannot split'),
    ({'opts': {'a': 1}}, 'not a dict'),
    ({'fstype': 'xfs', 'uuid': 'random'}, 'or one of the keywords generate, nil'),
    ({'fstype': 'vfat', 'uuid': 'random'}, "uuid: 'random' is not a valid vfat UUID"),
    ({'fstype': 'btrfs', 'uuid': 'clear'}, 'not a valid btrfs UUID'),
    ({'fstype': 'lvm', 'uuid': UUID}, 'an LVM identifier of 32 characters'),
    ({'fstype': 'lvm', 'label': 'pv0'}, 'label: a lvm physical volume has no label; leave label out.'),
    ({'fstype': 'gfs2', 'label': 'images'}, 'the label of gfs2 is its lock table, CLUSTER:NAME'),
    ({'fstype': 'ocfs2', 'label': 'x' * 64}, 'at most 63'),
    # xfs_db would read it as "remove the label"
    ({'fstype': 'xfs', 'label': '--'}, 'label: xfs_db, which relabels an existing xfs file system, reads the label --'),
])
def test_bad_parameters_fail_before_anything_runs(module, image, args, fragment):
    out = module(dict({'dev': image, 'fstype': 'ext4'}, **args))
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
    assert steps[0].result['diff']['before']['size'] == 64 * MiB
    assert steps[0].result['diff']['after']['size'] == 128 * MiB


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


@pytest.mark.parametrize('fstype', ['vfat', 'reiserfs', 'ocfs2', 'gfs2'])
def test_resizefs_of_other_existing_file_systems_fails_clearly(module, image, fstype):
    label = 'hv:a' if fstype == 'gfs2' else None
    module.device.put(fstype, label)
    # gfs2 is refused without its lock table even when it exists (validated before anything is probed)
    out = module(dict({'dev': image, 'fstype': fstype, 'resizefs': True}, **({'label': label} if label else {})))
    assert out.failed and 'not supported by this module' in out.result['msg']
    assert module.device.changing_calls() == []
    assert ('fatresize' in out.result['msg']) is (fstype == 'vfat')


def test_resizefs_on_a_new_file_system_just_makes_it(module, image):
    make_room(image, 'xfs')
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


# -- resizefs of xfs, btrfs, f2fs, lvm and mounted ext --------------------------------------------

def image_of(tmp_path, size, name='grown disk.raw'):
    path = str(tmp_path / name)
    truncate(path, size)
    return path


def test_resizefs_grows_a_mounted_xfs_after_its_loop_device(module, mount, tmp_path):
    image = image_of(tmp_path, 320 * MiB)
    module.device.put('xfs', 'scratch')      # 81920 blocks of 4 KiB in allocation groups of 20480
    mount(image)
    truncate(image, 400 * MiB)               # the loop device still sees 320 MiB
    args = {'dev': image, 'fstype': 'xfs', 'resizefs': True}
    plan = [['/sbin/losetup', '--set-capacity', '/dev/loop3'], ['/sbin/xfs_growfs', '-d', '/mnt/eph']]
    check = module(args, check_mode=True, diff=True)
    assert not check.failed and check.result['changed'] and check.result['commands'] == plan
    assert module.device.changing_calls() == []
    out = module(args, diff=True)
    assert not out.failed and out.result['changed']
    assert out.result['commands'] == plan == module.device.changing_calls() and out.result['cmd'] == plan[-1]
    for step in (check, out):
        assert step.result['fs_size'] == 400 * MiB
        assert step.result['diff']['before']['size'] == 320 * MiB and step.result['diff']['after']['size'] == 400 * MiB
    # read from the mounted file system, not from the device, which may lag behind
    assert ['/sbin/xfs_info', '/mnt/eph'] in module.device.calls
    assert not any(call[0] == '/sbin/xfs_db' for call in module.device.calls)
    again = [module(args), module(args, check_mode=True)]
    assert [step.result['changed'] for step in again] == [False, False]
    assert [step.result['fs_size'] for step in again] == [400 * MiB] * 2
    assert module.device.changing_calls() == plan


def test_resizefs_of_a_mounted_xfs_whose_loop_device_already_grew(module, mount, tmp_path):
    image = image_of(tmp_path, 320 * MiB)
    module.device.put('xfs')
    truncate(image, 400 * MiB)
    mount(image)
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True})
    assert out.result['commands'] == [['/sbin/xfs_growfs', '-d', '/mnt/eph']] == module.device.changing_calls()


@pytest.mark.parametrize('check_mode', [True, False])
def test_resizefs_of_an_unmounted_xfs_that_could_grow_fails(module, tmp_path, check_mode):
    image = image_of(tmp_path, 320 * MiB)
    module.device.put('xfs')
    truncate(image, 400 * MiB)
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True}, check_mode=check_mode)
    assert out.failed and module.device.changing_calls() == []
    assert 'xfs_growfs grows only while mounted' in out.result['msg'] and 'mount -o loop' in out.result['msg']
    assert '320.0 MiB' in out.result['msg'] and '400.0 MiB' in out.result['msg']
    assert ['/sbin/xfs_db', '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', image] in module.device.calls


@pytest.mark.parametrize('extra_blocks', [0, 63])
def test_resizefs_of_an_xfs_that_cannot_grow_runs_nothing(module, tmp_path, extra_blocks):
    # 63 blocks more would make a last allocation group too small for xfs_growfs to add
    image = image_of(tmp_path, 320 * MiB + extra_blocks * 4096)
    module.device.put('xfs')
    args = {'dev': image, 'fstype': 'xfs', 'resizefs': True}
    steps = [module(args, diff=True), module(args, check_mode=True, diff=True)]
    for step in steps:
        assert not step.failed and step.result['changed'] is False and 'commands' not in step.result
        assert step.result['fs_size'] == 320 * MiB
        assert step.result['diff']['before']['size'] == step.result['diff']['after']['size'] == 320 * MiB
    assert module.device.changing_calls() == []


def test_resizefs_of_an_unmounted_xfs_64_blocks_short_fails(module, tmp_path):
    image = image_of(tmp_path, 320 * MiB + 64 * 4096)
    module.device.put('xfs')
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True})
    assert out.failed and 'grows only while mounted' in out.result['msg']


def test_resizefs_of_an_xfs_larger_than_its_image_fails(module, image):
    module.device.put('xfs')                 # 320 MiB in a 64 MiB image
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True})
    assert out.failed and 'shrunk under it' in out.result['msg']


def test_resizefs_of_an_xfs_mounted_twice_fails(module, mount, tmp_path, monkeypatch):
    image = image_of(tmp_path, 320 * MiB)
    module.device.put('xfs')
    mount(image)
    truncate(image, 400 * MiB)
    module.device.loops = ['/dev/loop3', '/dev/loop4']
    monkeypatch.setattr(Users, 'block_device_usage',
                        lambda self, path, online=False: (['/mnt/' + path[-5:]], []))
    out = module({'dev': image, 'fstype': 'xfs', 'resizefs': True})
    assert out.failed and 'is mounted more than once (/mnt/loop3, /mnt/loop4)' in out.result['msg']
    assert module.device.changing_calls() == []


@pytest.mark.parametrize('devid', [1, 2])
def test_resizefs_grows_a_mounted_btrfs(module, mount, tmp_path, devid):
    image = image_of(tmp_path, 256 * MiB)
    craft_btrfs(image, devid, 256 * MiB)
    module.device.put('btrfs', 'data')
    module.device.btrfs = {'devid': devid, 'size': 256 * MiB}
    mount(image)
    truncate(image, 300 * MiB)
    args = {'dev': image, 'fstype': 'btrfs', 'resizefs': True}
    plan = [['/sbin/losetup', '--set-capacity', '/dev/loop3'],
            ['/sbin/btrfs', 'filesystem', 'resize', '%d:max' % devid, '/mnt/eph']]
    check = module(args, check_mode=True)
    out = module(args, diff=True)
    assert check.result['commands'] == out.result['commands'] == plan == module.device.changing_calls()
    assert check.result['fs_size'] == out.result['fs_size'] == 300 * MiB
    assert out.result['diff']['before']['size'] == 256 * MiB and out.result['diff']['after']['size'] == 300 * MiB
    assert module(args).result['changed'] is False and module.device.changing_calls() == plan


def test_resizefs_of_an_unmounted_btrfs_that_could_grow_fails(module, tmp_path):
    image = image_of(tmp_path, 256 * MiB)
    craft_btrfs(image, 1, 256 * MiB)
    module.device.put('btrfs')
    truncate(image, 300 * MiB)
    out = module({'dev': image, 'fstype': 'btrfs', 'resizefs': True}, check_mode=True)
    assert out.failed and 'btrfs filesystem resize grows only while mounted' in out.result['msg']
    assert module.device.changing_calls() == []


def test_resizefs_grows_a_mounted_ext4_online(module, image, mount):
    module.device.put('ext4', 'eph0')
    # mounted since its last check: resize2fs would want e2fsck -f first, unless it grows it online
    module.device.ext['Last mount time'] = 'Mon Nov 23 10:00:00 2026'
    mount(image)
    truncate(image, 128 * MiB)
    args = {'dev': image, 'fstype': 'ext4', 'resizefs': True}
    plan = [['/sbin/losetup', '--set-capacity', '/dev/loop3'], ['/sbin/resize2fs', '--', '/dev/loop3']]
    check = module(args, check_mode=True)
    out = module(args)
    assert not out.failed and check.result['commands'] == out.result['commands'] == plan
    assert module.device.changing_calls() == plan
    assert check.result['fs_size'] == out.result['fs_size'] == 128 * MiB
    # the superblock is read through the loop device it is mounted from
    assert ['/sbin/dumpe2fs', '-h', '--', '/dev/loop3'] in module.device.calls
    assert module(args).result['changed'] is False


def test_resizefs_grows_an_unmounted_f2fs(module, image):
    craft_f2fs(image, 16384)
    module.device.put('f2fs', 'data')
    truncate(image, 100 * MiB + 4096 + 100)
    args = {'dev': image, 'fstype': 'f2fs', 'resizefs': True}
    plan = [['/sbin/resize.f2fs', '--', image]]
    check = module(args, check_mode=True, diff=True)
    out = module(args, diff=True)
    assert check.result['commands'] == out.result['commands'] == plan == module.device.changing_calls()
    assert check.result['fs_size'] == out.result['fs_size'] == 100 * MiB + 4096
    assert out.result['diff']['before']['size'] == 64 * MiB
    assert module(args).result['changed'] is False


def test_resizefs_of_a_mounted_f2fs_fails(module, image, mount):
    craft_f2fs(image, 16384)
    module.device.put('f2fs')
    mount(image)
    truncate(image, 100 * MiB)
    out = module({'dev': image, 'fstype': 'f2fs', 'resizefs': True})
    assert out.failed and 'is mounted on /mnt/eph; resize.f2fs grows it only while unmounted' in out.result['msg']
    assert module.device.changing_calls() == []


def test_resizefs_grows_a_physical_volume(module, tmp_path, as_block_device):
    dev = image_of(tmp_path, 96 * MiB, 'pv')
    as_block_device(dev)
    module.device.put('LVM2_member', None, LVM_ID)
    module.device.pv = {'pv_size': 64 * MiB, 'dev_size': 96 * MiB}
    args = {'dev': dev, 'fstype': 'lvm', 'resizefs': True}
    check = module(args, check_mode=True)
    out = module(args, diff=True)
    assert check.result['commands'] == out.result['commands'] == [['/sbin/pvresize', '--', dev]]
    assert module.device.changing_calls() == [['/sbin/pvresize', '--', dev]]
    assert check.result['fs_size'] == out.result['fs_size'] == 96 * MiB
    assert out.result['diff']['before']['size'] == 64 * MiB and out.result['uuid'] == LVM_ID
    assert module(args).result['changed'] is False


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


def test_absent_on_a_mounted_image_is_refused(module, image, mount):
    module.device.put('ext4')
    mount(image, point='/mnt', loop='/dev/loop1')
    out = module({'dev': image, 'state': 'absent'})
    assert out.failed and 'does not wipe' in out.result['msg'] and module.device.changing_calls() == []
