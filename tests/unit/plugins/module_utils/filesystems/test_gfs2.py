# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gfs2: mkfs.gfs2 and tunegfs2 command lines, and its lock table."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)

GFS2 = TYPES['gfs2']


@pytest.mark.parametrize('kwargs, argv', [
    # mkfs.gfs2 takes no "--"; -O keeps it from asking for confirmation
    ({'opts': ['-p', 'lock_nolock']}, ['/sbin/mkfs.gfs2', '-O', '-p', 'lock_nolock', DEV]),
    ({'label': 'hv:images', 'uuid': UUID, 'opts': ['-j', '2']},
     ['/sbin/mkfs.gfs2', '-O', '-t', 'hv:images', '-U', UUID, '-j', '2', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('gfs2', **kwargs) == argv


def test_mkfs_takes_uuid():
    assert GFS2.mkfs_takes_uuid(UUID) is True


@pytest.mark.parametrize('label, uuid, argvs', [
    # tunegfs2 takes no "--"
    ('hv:other', UUID, [['/sbin/tunegfs2', '-L', 'hv:other', '-U', UUID, DEV]]),
    (None, UUID, [['/sbin/tunegfs2', '-U', UUID, DEV]]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('gfs2', label=label, uuid=uuid) == argvs


@pytest.mark.parametrize('label, fragment', [
    ('images', 'lock table, CLUSTER:NAME'),
    ('hv:', 'lock table'),
    (':images', 'lock table'),
    ('hv:im:ages', 'lock table'),
    ('hv:im ages', 'lock table'),
    ('x' * 33 + ':images', 'lock table'),
    ('hv:' + 'x' * 31, 'lock table'),
    ('', 'empty'),
])
def test_label_problems(label, fragment):
    assert fragment in GFS2.label_problem(label)


@pytest.mark.parametrize('label', ['hv:images', 'my_cluster-1:fs_0', 'x' * 32 + ':' + 'y' * 30, '-x:y'])
def test_good_labels(label):
    assert GFS2.label_problem(label) is None


@pytest.mark.parametrize('label, opts, problem', [
    (None, [], True),
    (None, ['-p', 'lock_dlm'], True),
    (None, ['-p', 'lock_nolock'], False),
    ('hv:images', [], False),
])
def test_a_new_gfs2_needs_a_lock_table(label, opts, problem):
    found = GFS2.create_problem(label, opts)
    assert (found is not None) is problem
    assert found is None or 'or opts: -p lock_nolock' in found


def test_normalize_uuid():
    assert GFS2.normalize_uuid(UUID) == UUID
