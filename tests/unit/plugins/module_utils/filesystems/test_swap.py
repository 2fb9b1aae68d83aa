# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""swap: mkswap and swaplabel command lines, and the swap header."""

from __future__ import annotations

import os
import struct

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.probe import Probe
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.swap import SwapHeader, read_swap_header
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.filesystems.fs_helpers import (
    DEV,
    MiB,
    UUID,
    mkfs_argv,
    relabel_argvs,
    tools,
)

SWAP = TYPES['swap']


@pytest.mark.parametrize('kwargs, argv', [
    ({}, ['/sbin/mkswap', '--', DEV]),
    ({'label': 'swap0', 'uuid': UUID, 'regular_file': True}, ['/sbin/mkswap', '-L', 'swap0', '-U', UUID, '--', DEV]),
    ({'uuid': 'clear'}, ['/sbin/mkswap', '-U', 'clear', '--', DEV]),
])
def test_mkfs_argv(kwargs, argv):
    assert mkfs_argv('swap', **kwargs) == argv


def test_mkfs_takes_uuid():
    assert SWAP.mkfs_takes_uuid('time') is True


@pytest.mark.parametrize('label, uuid, argvs', [
    ('swap1', UUID, [['/sbin/swaplabel', '-L', 'swap1', '-U', UUID, '--', DEV]]),
    (None, None, []),
    # swaplabel takes UUIDs only: a keyword makes the area again, keeping its label
    (None, 'clear', [['/sbin/mkswap', '-L', 'old', '-U', 'clear', '--', DEV]]),
    ('new', 'random', [['/sbin/mkswap', '-L', 'new', '-U', 'random', '--', DEV]]),
])
def test_relabel_argvs(label, uuid, argvs):
    assert relabel_argvs('swap', label=label, uuid=uuid, probe=Probe({'TYPE': 'swap', 'LABEL': 'old'})) == argvs


def test_labels():
    assert 'at most 15' in SWAP.label_problem('x' * 16)
    assert SWAP.label_problem('x' * 15) is None


@pytest.mark.parametrize('value, normal', [(' %s ' % UUID, UUID), ('clear', 'clear')])
def test_normalize_uuid(value, normal):
    assert SWAP.normalize_uuid(value) == normal


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
    header = read_swap_header(path)
    assert header.page_size == page_size and header.last_page == 15 and header.size == 16 * page_size


def test_read_swap_header_of_other_data(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'\0' * 8192)
    assert read_swap_header(str(path)) is None


def test_growth_keeps_uuid_and_label_and_the_page_size():
    page = os.sysconf('SC_PAGE_SIZE')
    header = SwapHeader(page, 15, 1)
    assert SWAP.grown_size(DEV, header, 64 * MiB + 100) == 64 * MiB
    probe = Probe({'TYPE': 'swap', 'LABEL': 'swap0', 'UUID': UUID})
    assert SWAP.grow_argv(tools(), DEV, DEV, None, header, probe) == [
        '/sbin/mkswap', '-L', 'swap0', '-U', UUID, '--', DEV]
    with pytest.raises(TaskError) as excinfo:
        SWAP.grown_size(DEV, SwapHeader(page * 2, 15, 1), 64 * MiB)
    assert 'would change its page size' in excinfo.value.msg and DEV in excinfo.value.msg
