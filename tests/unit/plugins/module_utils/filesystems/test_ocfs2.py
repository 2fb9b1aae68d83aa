# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ocfs2: mkfs.ocfs2 and tunefs.ocfs2 command lines."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    UUID,
    mkfs_argv,
    relabel_argvs,
)


# -F and -x as community.general.filesystem gives them: the module decides what may be overwritten, and
# mkfs.ocfs2 does not ask a cluster stack the host may not run.
@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkfs.ocfs2', '-q', '-F', '-x', '--', DEV]),
    ({'label': 'shared', 'uuid': UUID, 'opts': ['-M', 'local']},
     ['/sbin/mkfs.ocfs2', '-q', '-F', '-x', '-L', 'shared', '-U', UUID, '-M', 'local', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('ocfs2', **kwargs) == argv


@pytest.mark.parametrize('label, uuid, argvs', [
    ('shared', None, [['/sbin/tunefs.ocfs2', '--yes', '-L', 'shared', '--', DEV]]),
    (None, UUID, [['/sbin/tunefs.ocfs2', '--yes', '--uuid-reset=%s' % UUID, '--', DEV]]),
    ('shared', UUID, [['/sbin/tunefs.ocfs2', '--yes', '-L', 'shared', '--', DEV],
                      ['/sbin/tunefs.ocfs2', '--yes', '--uuid-reset=%s' % UUID, '--', DEV]]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('ocfs2', label=label, uuid=uuid) == argvs


def test_labels():
    assert 'at most 63' in TYPES['ocfs2'].label_problem('x' * 64)
    assert TYPES['ocfs2'].label_problem('x' * 63) is None
