# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""reiserfs: mkfs.reiserfs and reiserfstune command lines."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.reiserfs', '-q', '--', DEV]),
    ({'label': 'old', 'uuid': UUID}, ['/sbin/mkfs.reiserfs', '-q', '-l', 'old', '-u', UUID, '--', DEV]),
    # reiserfstune takes random, mkfs.reiserfs does not: it makes a random UUID
    ({'uuid': 'random'}, ['/sbin/mkfs.reiserfs', '-q', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('reiserfs', **kwargs) == argv


def test_mkfs_takes_uuid():
    assert TYPES['reiserfs'].mkfs_takes_uuid('random') is False


@pytest.mark.parametrize('label, uuid, argvs', [
    ('new', UUID, [['/sbin/reiserfstune', '-l', 'new', '-u', UUID, '--', DEV]]),
    (None, 'random', [['/sbin/reiserfstune', '-u', 'random', '--', DEV]]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('reiserfs', label=label, uuid=uuid) == argvs


def test_labels_and_keywords():
    assert 'at most 16' in TYPES['reiserfs'].label_problem('x' * 17)
    assert TYPES['reiserfs'].label_problem('x' * 16) is None
    assert TYPES['reiserfs'].normalize_uuid('time') == 'time'
