# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""blkid and wipefs: command lines, their output, and the size of a device."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems import probe as blkid
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.probe import (
    Probe,
    parse_blkid_export,
    parse_signatures,
    wipe_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES, describe
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    tools,
)


@pytest.mark.parametrize('partition_table, argv', [
    (False, ['/sbin/wipefs', '--all', '--', DEV]),
    (True, ['/sbin/wipefs', '--all', '--force', '--', DEV]),
])
def test_wipe_argv(partition_table, argv):
    assert wipe_argv('/sbin/wipefs', DEV, partition_table=partition_table) == argv
    listed = [{'type': 'dos', 'usage': 'partition-table'}] if partition_table else [{'type': 'ext4', 'usage': 'x'}]
    assert blkid.wipe(tools(), DEV, listed) == argv


@pytest.mark.parametrize('listed, keep, argv', [
    # after mkfs: every other type goes, the new one stays
    ([{'type': 'ext4', 'usage': 'filesystem'}], ('xfs',), ['/sbin/wipefs', '--all', '--types', 'noxfs', '--', DEV]),
    ([{'type': 'gpt', 'usage': 'partition-table'}, {'type': 'PMBR', 'usage': 'partition-table'}], ('ext4', 'ext4dev'),
     ['/sbin/wipefs', '--all', '--force', '--types', 'noext4,ext4dev', '--', DEV]),
    # nothing of another type was there: no command
    ([{'type': 'ext4', 'usage': 'filesystem'}], ('ext4', 'ext4dev'), None),
    ([{'type': 'ext4', 'usage': 'filesystem'}], (), ['/sbin/wipefs', '--all', '--', DEV]),
])
def test_wipe_keeps_the_types_it_is_told_to(listed, keep, argv):
    assert blkid.wipe(tools(), DEV, listed, keep=keep) == argv


def test_probe_and_listing_argv():
    # -c /dev/null: no blkid cache is read or written
    assert blkid.probe_argv('/sbin/blkid', DEV) == ['/sbin/blkid', '-p', '-c', '/dev/null', '-o', 'export', '--', DEV]
    assert blkid.signatures_argv('/sbin/wipefs', DEV) == [
        '/sbin/wipefs', '--no-act', '--json', '--output', 'DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL', '--', DEV]


def test_parse_blkid_export_undoes_escapes():
    text = ('DEVNAME=/srv/disk\\ one.raw\nLABEL=a\\ b\\\'c\\"d\\\\e=f\nUUID=%s\nVERSION=1.0\nBLOCK_SIZE=4096\n'
            'TYPE=ext4\nUSAGE=filesystem\n\nnonsense\n' % UUID)
    fields = parse_blkid_export(text)
    assert fields['LABEL'] == 'a b\'c"d\\e=f'
    assert fields['DEVNAME'] == '/srv/disk one.raw'
    assert fields['TYPE'] == 'ext4' and fields['UUID'] == UUID
    probe = Probe(fields)
    assert probe.holds_only(TYPES['ext4']) and not probe.holds_only(TYPES['ext3']) and not probe.empty
    # ext4 and ext4dev are the same on disk; blkid may report either
    assert probe.holds_only(TYPES['ext4dev'])
    assert describe(probe) == "an ext4 file system labelled 'a b\\'c\"d\\\\e=f'"


def test_probe_descriptions():
    assert Probe().empty and describe(Probe()) == 'nothing'
    both = Probe({'TYPE': 'ext4', 'USAGE': 'filesystem', 'PTTYPE': 'dos', 'PTUUID': '78563412'})
    assert not both.holds_only(TYPES['ext4']) and not both.empty
    assert describe(both) == 'an ext4 file system and a dos partition table'
    assert describe(Probe({'TYPE': 'swap', 'USAGE': 'other', 'LABEL': 's'})) == "a swap area labelled 's'"
    assert describe(Probe({'TYPE': 'xfs', 'USAGE': 'filesystem'})) == 'an xfs file system'
    assert describe(Probe({'TYPE': 'btrfs', 'USAGE': 'filesystem'})) == 'a btrfs file system'
    pv = Probe({'TYPE': 'LVM2_member', 'USAGE': 'raid'})
    assert describe(pv) == 'an LVM physical volume' and pv.holds_only(TYPES['lvm'])
    assert describe(Probe({'TYPE': 'gfs2', 'USAGE': 'filesystem', 'LABEL': 'hv:a'})) == "a gfs2 file system labelled 'hv:a'"
    assert describe(Probe({'TYPE': 'ocfs2', 'USAGE': 'filesystem'})) == 'an ocfs2 file system'
    assert describe(Probe({'TYPE': 'crypto_LUKS', 'USAGE': 'crypto'})) == 'a crypto_LUKS signature (usage: crypto)'
    assert describe(Probe({'PTTYPE': 'gpt'})) == 'a gpt partition table'
    ambivalent = Probe(ambivalent=True)
    assert not ambivalent.empty and not ambivalent.holds_only(TYPES['ext4'])
    assert 'cannot tell' in describe(ambivalent)


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
    assert blkid.describe_signatures(signatures) == 'ext4 at offset 0x438, dos at offset 0x1fe'
    assert parse_signatures('{"signatures": [\n\n]}') == [] and parse_signatures('') == []
    with pytest.raises(FsError):
        parse_signatures('wipefs: oops')


@pytest.mark.parametrize('rc, stdout, empty, ambivalent', [
    (2, '', True, False),
    (8, '', False, True),
    (0, 'TYPE=xfs\nUSAGE=filesystem\n', False, False),
])
def test_probe_exit_codes(rc, stdout, empty, ambivalent):
    runner = FakeRunner(rc=rc, stdout=stdout)
    found = blkid.probe(tools(runner), DEV)
    assert runner.calls == [['/sbin/blkid', '-p', '-c', '/dev/null', '-o', 'export', '--', DEV]]
    assert found.empty is empty and found.ambivalent is ambivalent


def test_probe_failure_carries_the_command():
    runner = FakeRunner(rc=4, stderr='blkid: error: /nope: No such file or directory')
    with pytest.raises(FsError) as excinfo:
        blkid.probe(tools(runner), '/nope')
    result = excinfo.value.to_result()
    assert result['rc'] == 4 and result['cmd'][0] == '/sbin/blkid'
    assert 'No such file or directory' in result['msg'] and result['stderr']


def test_device_size_of_a_file(tmp_path):
    path = tmp_path / 'f'
    with open(str(path), 'wb') as handle:
        handle.truncate(12345)
    assert blkid.device_size(str(path)) == 12345
