# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding and running the tools: once each, named with their package when missing, errors summarised."""

from __future__ import annotations

import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _run
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError, Tools, last_line
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner


def test_tools_are_found_once_and_only_when_used():
    asked = []

    def which(name, package):
        asked.append((name, package))
        return '/usr/sbin/' + name

    tools = Tools(runner=FakeRunner(rc=2), which=which)
    assert tools.path('blkid', 'util-linux') == '/usr/sbin/blkid'
    assert tools.path('blkid', 'util-linux') == '/usr/sbin/blkid'
    assert asked == [('blkid', 'util-linux')]


@pytest.fixture
def path_of(monkeypatch, tmp_path):
    """PATH is only tmp_path/bin; the sbin directories are not searched."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    monkeypatch.setenv('PATH', str(bin_dir))
    monkeypatch.setattr(_run, 'SBIN_DIRS', ())
    return bin_dir


def test_a_tool_that_cannot_be_executed_is_named_with_its_package(path_of):
    btrfs = path_of / 'btrfs'
    btrfs.write_text('#!/bin/sh\n')
    os.chmod(str(btrfs), 0o644)
    with pytest.raises(_run.ToolNotFoundError) as excinfo:
        Tools().path('btrfs', 'btrfs-progs')
    assert 'btrfs cannot be executed' in excinfo.value.msg and 'btrfs-progs' in excinfo.value.msg
    assert str(btrfs) in excinfo.value.msg


def test_a_missing_tool_is_named_with_its_package(path_of):
    with pytest.raises(_run.ToolNotFoundError) as excinfo:
        Tools().path('mkfs.f2fs', 'f2fs-tools')
    assert 'mkfs.f2fs is not installed' in excinfo.value.msg and 'Install the package f2fs-tools' in excinfo.value.msg


def test_an_executable_tool_is_found(path_of):
    tool = path_of / 'mkswap'
    tool.write_text('#!/bin/sh\n')
    os.chmod(str(tool), 0o755)
    assert Tools().path('mkswap', 'util-linux') == str(tool)


def test_a_failing_tool_raises_with_its_command():
    runner = FakeRunner(rc=1, stderr='mkfs.ext4: Device size reported to be zero.')
    with pytest.raises(FsError) as excinfo:
        Tools(runner=runner, which=lambda name, package: name).run(['mkfs.ext4', '--', '/x'], 'mkfs.ext4 on /x')
    assert excinfo.value.msg == 'mkfs.ext4 on /x failed (rc=1): mkfs.ext4: Device size reported to be zero.'
    assert excinfo.value.cmd == ['mkfs.ext4', '--', '/x'] and excinfo.value.rc == 1


@pytest.mark.parametrize('stderr, summary', [
    ('Filesystem must be larger than 300MB.\nUsage: mkfs.xfs\n/* blocksize */\t\t[-b size=num]\n',
     'Filesystem must be larger than 300MB.'),
    ('mke2fs 1.47.0 (5-Feb-2023)\nmkfs.ext4: Device size reported to be zero.\n', 'mkfs.ext4: Device size reported to be zero.'),
    ('', 'no error message'),
])
def test_error_summary(stderr, summary):
    assert last_line(stderr) == summary
