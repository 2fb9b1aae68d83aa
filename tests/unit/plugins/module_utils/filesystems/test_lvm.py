# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""LVM physical volumes: pvcreate, pvchange, pvs and pvresize command lines, and LVM identifiers."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.lvm import (
    parse_pvs,
    pvresize_argv,
    pvs_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    LVM_ID,
    MiB,
    UUID,
    mkfs_argv,
    relabel_argvs,
    tools,
)

LVM = TYPES['lvm']
# lvm2 2.03: a 64 MiB physical volume on a loop device grown to 96 MiB
PVS = '''  {
      "report": [
          {
              "pv": [
                  {"pv_size":"67108864", "dev_size":"100663296", "pv_uuid":"Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn"}
              ]
          }
      ]
  }
'''


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/pvcreate', '--', DEV]),
    ({'uuid': LVM_ID}, ['/sbin/pvcreate', '-u', LVM_ID, '--norestorefile', '--', DEV]),
    ({'uuid': LVM_ID, 'opts': ['--dataalignment', '1m']},
     ['/sbin/pvcreate', '-u', LVM_ID, '--norestorefile', '--dataalignment', '1m', '--', DEV]),
    ({'uuid': 'random'}, ['/sbin/pvcreate', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('lvm', **kwargs) == argv


@pytest.mark.parametrize('uuid, takes', [('random', False), (LVM_ID, True)])
def test_mkfs_takes_uuid(uuid, takes):
    assert LVM.mkfs_takes_uuid(uuid) is takes


@pytest.mark.parametrize('label, uuid, argvs', [
    (None, 'random', [['/sbin/pvchange', '--uuid', '--', DEV]]),
    (None, None, []),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('lvm', label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('label, uuid, fragment', [
    (None, LVM_ID, 'UUID of an existing lvm physical volume cannot be changed'),
    ('x', None, 'a lvm physical volume has no label'),
])
def test_relabel_argvs_refuses_what_no_tool_changes(label, uuid, fragment):
    with pytest.raises(ValueError) as excinfo:
        relabel_argvs('lvm', label=label, uuid=uuid)
    assert fragment in str(excinfo.value)


def test_no_label():
    assert 'a lvm physical volume has no label; leave label out' in LVM.label_problem('pv0')


@pytest.mark.parametrize('value, normal', [(LVM_ID, LVM_ID), ('random', 'random')])
def test_normalize_uuid(value, normal):
    # LVM identifiers are case-sensitive: kept as given
    assert LVM.normalize_uuid(value) == normal


@pytest.mark.parametrize('value, fragment', [
    (UUID, 'an LVM identifier of 32 characters'),
    ('Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9K0l1Mn', 'LVM identifier'),
    ('clear', 'or one of the keywords random'),
])
def test_normalize_uuid_refuses(value, fragment):
    with pytest.raises(ValueError) as excinfo:
        LVM.normalize_uuid(value)
    assert fragment in str(excinfo.value)


def test_size_and_growth_argv():
    assert pvs_argv('/sbin/pvs', DEV) == [
        '/sbin/pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--', DEV]
    assert pvresize_argv('/sbin/pvresize', DEV) == ['/sbin/pvresize', '--', DEV]


def test_parse_pvs():
    geometry = parse_pvs(PVS)
    assert (geometry.size, geometry.dev_size, geometry.pv_uuid) == (64 * MiB, 96 * MiB, LVM_ID)
    assert geometry.grown_size(100 * MiB) == 96 * MiB


@pytest.mark.parametrize('text', [
    '', '{"report": []}', '{"report": [{"pv": []}]}', '  Failed to find physical volume "/dev/loop9".\n',
    '{"report": [{"pv": [{"pv_size": "", "dev_size": "1", "pv_uuid": "x"}]}]}',
])
def test_parse_pvs_fails_clearly(text):
    with pytest.raises(FsError) as excinfo:
        parse_pvs(text)
    assert 'pvs did not report the physical volume' in excinfo.value.msg


def test_read_geometry_and_grow_argv():
    runner = FakeRunner(outputs={'pvs': PVS})
    geometry = LVM.read_geometry(tools(runner), '/dev/loop0', lambda: [])
    assert geometry.dev_size == 96 * MiB
    assert runner.calls == [
        ['/sbin/pvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'pv_size,dev_size,pv_uuid', '--',
         '/dev/loop0']]
    assert LVM.grow_argv(tools(), '/dev/loop0', '/dev/loop0', None, geometry, None) == [
        '/sbin/pvresize', '--', '/dev/loop0']
    assert not LVM.regular_file and LVM.grows_online
