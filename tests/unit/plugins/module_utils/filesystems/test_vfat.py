# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vfat: mkfs.vfat and fatlabel command lines, labels and volume IDs."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)

VFAT = TYPES['vfat']


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.vfat', '--', DEV]),
    ({'label': 'CONFIG-2', 'uuid': '1A2B-3C4D', 'opts': ['-F', '32']},
     ['/sbin/mkfs.vfat', '-n', 'CONFIG-2', '-i', '1A2B3C4D', '-F', '32', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('vfat', **kwargs) == argv


def test_mkfs_takes_uuid():
    assert VFAT.mkfs_takes_uuid('1A2B-3C4D') is True


@pytest.mark.parametrize('label, uuid, argvs', [
    ('NEW', '1A2B-3C4D', [['/sbin/fatlabel', '--', DEV, 'NEW'], ['/sbin/fatlabel', '-i', '--', DEV, '1A2B3C4D']]),
    (None, '1A2B-3C4D', [['/sbin/fatlabel', '-i', '--', DEV, '1A2B3C4D']]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('vfat', label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('label, fragment', [('x' * 12, 'at most 11'), ('A.B', 'cannot contain .')])
def test_label_problems(label, fragment):
    assert fragment in VFAT.label_problem(label)


def test_good_labels():
    assert VFAT.label_problem('CONFIG-2') is None


@pytest.mark.parametrize('value, normal', [('1a2b3c4d', '1A2B-3C4D'), ('1a2b-3C4D', '1A2B-3C4D')])
def test_normalize_uuid(value, normal):
    assert VFAT.normalize_uuid(value) == normal


@pytest.mark.parametrize('value', [UUID, 'random'])
def test_normalize_uuid_refuses(value):
    with pytest.raises(ValueError) as excinfo:
        VFAT.normalize_uuid(value)
    assert 'a volume ID of 8 hexadecimal digits' in str(excinfo.value)


def test_vfat_does_not_grow_and_says_why():
    assert not VFAT.grows and 'fatresize' in VFAT.grow_hint
