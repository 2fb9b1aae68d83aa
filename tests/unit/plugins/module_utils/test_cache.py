# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which cache entries are in use: the scan of the users and the plan."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._cache import (
    CacheScanError,
    Scan,
    cache_entries,
    key_of,
    plan,
    require_complete,
)
from ansible_collections.hypervisor.images.plugins.module_utils._identity import source_record, write_record
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import inspect


def qemu_img(*args):
    subprocess.run(['qemu-img'] + list(args), check=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def tree(tmp_path):
    """instances/_base with three bases, an overlay on each of two (one relative, one a chain of two)."""
    base = tmp_path / 'instances' / '_base'
    base.mkdir(parents=True)
    (tmp_path / 'instances' / 'vm1').mkdir()
    (tmp_path / 'instances' / 'vm2').mkdir()
    qemu_img('create', '-q', '-f', 'raw', str(base / 'a.raw'), '1M')
    qemu_img('create', '-q', '-f', 'raw', str(base / 'b.raw'), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-b', 'b.raw', '-F', 'raw', str(base / 'b-top.qcow2'))
    qemu_img('create', '-q', '-f', 'raw', str(base / 'unused.raw'), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-b', str(base / 'a.raw'), '-F', 'raw',
             str(tmp_path / 'instances' / 'vm1' / 'disk'))
    qemu_img('create', '-q', '-f', 'qcow2', '-b', '../_base/b-top.qcow2', '-F', 'qcow2',
             str(tmp_path / 'instances' / 'vm2' / 'disk'))
    return tmp_path / 'instances'


def names(entries, keys):
    return sorted(os.path.basename(entries[key][0]) for key in keys)


def test_entries_are_the_visible_regular_files(tree):
    (tree / '_base' / '.a.raw.lock').write_text('')
    (tree / '_base' / 'subdir').mkdir()
    os.symlink('a.raw', str(tree / '_base' / 'link'))
    entries = cache_entries(str(tree / '_base'))
    assert names(entries, entries) == ['a.raw', 'b-top.qcow2', 'b.raw', 'unused.raw']
    entries = cache_entries(str(tree / '_base'), patterns=['*.raw'], exclude=['un*'])
    assert names(entries, entries) == ['a.raw', 'b.raw']


def test_chains_relative_names_and_chains_of_two_keep_their_bases(tree):
    entries = cache_entries(str(tree / '_base'))
    scan = Scan().walk([str(tree)])
    planned = plan(entries, scan, old=set(entries))
    assert names(entries, planned['remove']) == ['unused.raw']
    in_use = dict((os.path.basename(entries[key][0]), users) for key, users in planned['in_use'].items())
    assert in_use['a.raw'] == [str(tree / 'vm1' / 'disk')]
    assert in_use['b-top.qcow2'] == [str(tree / 'vm2' / 'disk')]
    assert in_use['b.raw'] == [str(tree / '_base' / 'b-top.qcow2'), str(tree / 'vm2' / 'disk')]
    assert scan.files == 6 and scan.unreadable == []


def test_a_base_used_only_by_a_base_that_goes_goes_in_the_same_run(tree):
    os.unlink(str(tree / 'vm2' / 'disk'))
    entries = cache_entries(str(tree / '_base'))
    planned = plan(entries, Scan().walk([str(tree)]), old=set(entries))
    assert names(entries, planned['remove']) == ['b-top.qcow2', 'b.raw', 'unused.raw']


def test_a_base_used_by_a_young_base_stays(tree):
    os.unlink(str(tree / 'vm2' / 'disk'))
    entries = cache_entries(str(tree / '_base'))
    young = key_of(os.stat(str(tree / '_base' / 'b-top.qcow2')))
    planned = plan(entries, Scan().walk([str(tree)]), old=set(entries) - {young})
    assert names(entries, planned['remove']) == ['unused.raw']
    assert names(entries, planned['young']) == ['b-top.qcow2']
    assert names(entries, planned['in_use']) == ['a.raw', 'b.raw']


def test_a_record_naming_an_entry_keeps_it(tree):
    copy = str(tree / 'vm1' / 'flat')
    with open(copy, 'wb') as handle:
        handle.write(b'\0' * 512)
    write_record(copy, copy, source_record(str(tree / '_base' / 'unused.raw'), made_by='sparse_copy'))
    with open(copy, 'r+b') as handle:  # a guest wrote to the copy: the record still names its source
        handle.write(b'x')
    entries = cache_entries(str(tree / '_base'))
    planned = plan(entries, Scan().walk([str(tree)]), old=set(entries))
    assert planned['remove'] == set()
    assert planned['in_use'][key_of(os.stat(str(tree / '_base' / 'unused.raw')))] == [copy]


def test_symlinks_and_hard_links_to_a_base_are_the_base(tree):
    os.link(str(tree / '_base' / 'unused.raw'), str(tree / 'unused-hardlink'))
    qemu_img('create', '-q', '-f', 'qcow2', '-b', str(tree / 'unused-hardlink'), '-F', 'raw', str(tree / 'vm1' / 'd2'))
    entries = cache_entries(str(tree / '_base'))
    planned = plan(entries, Scan().walk([str(tree)]), old=set(entries))
    assert planned['remove'] == set()


def test_unreadable_files_stop_the_plan(tree, monkeypatch):
    scan = Scan()
    scan.unreadable = ['%s (Permission denied)' % (tree / 'vm1' / 'disk')]
    with pytest.raises(CacheScanError) as excinfo:
        require_complete(scan)
    assert 'nothing was removed' in excinfo.value.msg and 'vm1/disk' in excinfo.value.msg


def test_each_base_is_inspected_once(tree):
    for number in range(5):
        qemu_img('create', '-q', '-f', 'qcow2', '-b', str(tree / '_base' / 'a.raw'), '-F', 'raw',
                 str(tree / 'vm1' / ('disk%d' % number)))
    seen = []

    def counting(path):
        seen.append(path)
        return inspect(path, names_only=True)

    scan = Scan(inspector=counting).walk([str(tree)])
    assert seen.count(str(tree / '_base' / 'a.raw')) == 1
    assert scan.bytes_read <= 4096 * len(seen)
