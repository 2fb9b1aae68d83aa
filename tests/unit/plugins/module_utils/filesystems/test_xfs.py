# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""xfs: mkfs.xfs and xfs_db command lines, its labels, its geometry and xfs_growfs's growth."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.xfs import (
    XfsGeometry,
    parse_xfs_db,
    parse_xfs_info,
    xfs_db_size_argv,
    xfs_grow_argv,
    xfs_info_argv,
)
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    MiB,
    UUID,
    mkfs_argv,
    relabel_argvs,
    tools,
)

XFS = TYPES['xfs']


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.xfs', '--', DEV]),
    ({'label': 'scratch', 'regular_file': True}, ['/sbin/mkfs.xfs', '-L', 'scratch', '--', DEV]),
    ({'label': 'scratch', 'uuid': UUID, 'opts': ['-m', 'reflink=1']},
     ['/sbin/mkfs.xfs', '-L', 'scratch', '-m', 'uuid=' + UUID, '-m', 'reflink=1', '--', DEV]),
    # keywords mkfs.xfs does not take: it makes a random UUID, and nil is set afterwards
    ({'uuid': 'generate'}, ['/sbin/mkfs.xfs', '--', DEV]),
    ({'uuid': 'nil'}, ['/sbin/mkfs.xfs', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('xfs', **kwargs) == argv


@pytest.mark.parametrize('uuid, takes', [(UUID, True), ('nil', False), ('generate', False)])
def test_mkfs_takes_uuid(uuid, takes):
    assert XFS.mkfs_takes_uuid(uuid) is takes


@pytest.mark.parametrize('uuid, after', [(UUID, False), ('nil', True), ('generate', False), (None, False)])
def test_uuid_after_mkfs(uuid, after):
    assert XFS.uuid_after_mkfs(uuid) is after


@pytest.mark.parametrize('label, uuid, argvs', [
    ('new', UUID, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'label new', '-c', 'uuid ' + UUID, '--', DEV]]),
    ('new', None, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'label new', '--', DEV]]),
    (None, 'nil', [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid nil', '--', DEV]]),
    (None, 'generate', [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'uuid generate', '--', DEV]]),
    # xfs_db's label command takes a label that starts with a dash as a label (checked with xfsprogs 6.1)
    ('-x', None, [['/sbin/xfs_db', '-x', '-p', 'xfs_admin', '-c', 'label -x', '--', DEV]]),
    (None, None, []),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('xfs', label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('label, fragment', [
    ('x' * 13, 'at most 12'),
    # xfs_db's label command reads -- as "remove the label"
    ('--', 'reads the label -- as "remove the label"'),
])
def test_label_problems(label, fragment):
    assert fragment in XFS.label_problem(label)


@pytest.mark.parametrize('label', ['x' * 12, '-x', '-', '---'])
def test_good_labels(label):
    assert XFS.label_problem(label) is None


@pytest.mark.parametrize('label, problem', [('a b', True), ('it\'s', True), ('a"b', True), ('ab', False)])
def test_relabel_problem(label, problem):
    # xfs_db splits its commands at spaces: such labels are only given by mkfs.xfs
    assert (XFS.relabel_problem(label) is not None) is problem


@pytest.mark.parametrize('value, normal', [(UUID.upper(), UUID), ('generate', 'generate'), ('NIL', 'nil')])
def test_normalize_uuid(value, normal):
    assert XFS.normalize_uuid(value) == normal


def test_normalize_uuid_refuses():
    with pytest.raises(ValueError) as excinfo:
        XFS.normalize_uuid('random')
    assert 'or one of the keywords generate, nil' in str(excinfo.value)


@pytest.mark.parametrize('args, value', [
    (['-m', 'reflink=1'], None),                                      # -m counts only with uuid=
    (['-m', 'crc=1,uuid=%s' % UUID], UUID),
    (['-muuid=%s' % UUID], UUID),
    (['-m', 'uuid=%s' % UUID, '-m', 'reflink=1'], UUID),              # a later -m without uuid= keeps it
    (['-m', 'uuid=a,uuid=b'], 'b'),
    (['-L', 'x'], None),
])
def test_a_uuid_in_metadata_opts(args, value):
    assert XFS.opts_uuid(args) == value


def test_size_and_growth_argv():
    assert xfs_db_size_argv('/sbin/xfs_db', DEV) == [
        '/sbin/xfs_db', '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', DEV]
    assert xfs_info_argv('/sbin/xfs_info', '/mnt/a b') == ['/sbin/xfs_info', '/mnt/a b']
    assert xfs_grow_argv('/sbin/xfs_growfs', '/mnt/a b') == ['/sbin/xfs_growfs', '-d', '/mnt/a b']


# Output of xfsprogs 6.1.0 for a 320 MiB xfs (mkfs.xfs defaults) in a loop file.
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


def test_xfs_geometry_reads_a_mounted_file_system_with_xfs_info():
    runner = FakeRunner(outputs={'xfs_info': XFS_INFO.replace('blocks=81920,', 'blocks=102400,'), 'xfs_db': XFS_DB})
    assert XFS.read_geometry(tools(runner), DEV, lambda: [('/dev/loop0', '/mnt/x')]).blocks == 102400
    assert XFS.read_geometry(tools(runner), DEV, lambda: []).blocks == 81920
    assert runner.calls == [['/sbin/xfs_info', '/mnt/x'],
                            ['/sbin/xfs_db', '-r', '-c', 'sb 0', '-c', 'p dblocks blocksize agblocks', '--', DEV]]


def test_grow_argv_and_mounted_rules():
    geometry = XfsGeometry(81920, 4096, 20480)
    assert XFS.grow_argv(tools(), DEV, '/dev/loop0', '/mnt/x', geometry, None) == ['/sbin/xfs_growfs', '-d', '/mnt/x']
    assert XFS.grown_size(DEV, geometry, 400 * MiB) == 400 * MiB
    assert XFS.grows_online and XFS.mounted_grow_problem(DEV, '/mnt/x') is None
    problem = XFS.unmounted_grow_problem(DEV, 320 * MiB, 400 * MiB)
    assert 'xfs_growfs grows only while mounted' in problem and '320.0 MiB' in problem and DEV in problem
