# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which cache entries are in use: the scan of the users and the plan."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._cache import (
    CacheScanError,
    Scan,
    busy_entries,
    cache_entries,
    key_of,
    plan,
    require_complete,
)
from ansible_collections.hypervisor.images.plugins.module_utils._identity import source_record, write_record
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import files_qemu_opens, inspect


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


# --- every file qemu would open is a use ------------------------------------

@pytest.mark.parametrize('name, directory, paths, unresolved', [
    ('base.raw', '/srv/vm', ['/srv/vm/base.raw'], 0),
    ('/srv/_base/b', '/srv/vm', ['/srv/_base/b'], 0),
    ('file:/srv/_base/b', '/srv/vm', ['/srv/_base/b'], 0),
    ('host_device:/dev/vg/lv', '/srv/vm', ['/dev/vg/lv'], 0),
    ('file:b', '/srv/vm', [], 1),  # relative to the working directory of qemu, not to the image
    ('json:{"driver": "raw", "file": {"driver": "file", "filename": "/srv/_base/b"}}', '/srv/vm', ['/srv/_base/b'], 0),
    ('json:{"file.driver": "file", "file.filename": "/srv/_base/b"}', '/srv/vm', ['/srv/_base/b'], 0),
    ('json:{"file": {"filename": "file:/srv/_base/b"}}', '/srv/vm', ['/srv/_base/b'], 0),
    ('json:{"driver": "qcow2", "file": {"filename": "/srv/x"}, "data-file": {"filename": "/srv/_base/d"}}',
     '/srv/vm', ['/srv/_base/d', '/srv/x'], 0),
    ('json:{"driver": "quorum", "children": ["/srv/_base/q1", {"filename": "/srv/_base/q2"}]}', '/srv/vm',
     ['/srv/_base/q1', '/srv/_base/q2'], 0),
    ('json:{"file": {"filename": "b"}}', '/srv/vm', [], 1),
    ('json:{"driver": "nbd", "filename": "nbd://host/export"}', '/srv/vm', [], 0),
    ('json:{not json', '/srv/vm', [], 0),  # qemu refuses it: nothing is opened
    ('nbd:127.0.0.1:10809', '/srv/vm', [], 0),
    ('https://images.example/b.qcow2', '/srv/vm', [], 0),
    ('blkdebug:/etc/blkdebug.conf:/srv/_base/b', '/srv/vm', ['/srv/_base/b'], 0),
    ('blkverify:/srv/_base/raw:/srv/_base/b', '/srv/vm', ['/srv/_base/raw', '/srv/_base/b'], 0),
    ('', '/srv/vm', [], 0),
])
def test_every_spelling_qemu_accepts_is_resolved(name, directory, paths, unresolved):
    found, why = files_qemu_opens(name, directory)
    assert sorted(found) == sorted(paths) and len(why) == unresolved


@pytest.fixture
def cache(tmp_path):
    base = tmp_path / '_base'
    vms = tmp_path / 'vms'
    base.mkdir()
    vms.mkdir()
    for name in ('file.raw', 'json.raw', 'vmdk.raw', 'deep.raw', 'hidden.raw', 'unused.raw'):
        qemu_img('create', '-q', '-f', 'raw', str(base / name), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'file:%s' % (base / 'file.raw'), '-F', 'raw',
             str(vms / 'file'), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-u', '-F', 'raw', '-b',
             'json:{"file": {"driver": "file", "filename": "%s"}}' % (base / 'json.raw'), str(vms / 'json'), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-o', 'data_file=%s,data_file_raw=on' % (base / 'data.raw'),
             str(vms / 'data'), '1M')
    (vms / 'disk.vmdk').write_text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                                   'createType="monolithicFlat"\nRW 2048 FLAT "../_base/vmdk.raw" 0\n')
    qemu_img('create', '-q', '-f', 'qcow2', '-b', 'deep.raw', '-F', 'raw', str(base / 'mid.qcow2'))
    qemu_img('create', '-q', '-f', 'qcow2', '-u', '-F', 'qcow2', '-b',
             'json:{"file.filename": "%s"}' % (base / 'mid.qcow2'), str(vms / 'deep'), '1M')
    qemu_img('create', '-q', '-f', 'qcow2', '-b', str(base / 'hidden.raw'), '-F', 'raw', str(vms / '.disk.x.part'))
    return tmp_path


def test_data_files_extents_json_and_file_names_at_any_depth_are_uses(cache):
    entries = cache_entries(str(cache / '_base'))
    scan = Scan().walk([str(cache / 'vms'), str(cache / '_base')])
    require_complete(scan)
    planned = plan(entries, scan, old=set(entries))
    assert names(entries, planned['remove']) == ['unused.raw']
    users = dict((os.path.basename(entries[key][0]), [os.path.basename(user) for user in found])
                 for key, found in planned['in_use'].items())
    assert users == {'file.raw': ['file'], 'json.raw': ['json'], 'data.raw': ['data'], 'vmdk.raw': ['disk.vmdk'],
                     'mid.qcow2': ['deep'], 'deep.raw': ['mid.qcow2', 'deep'], 'hidden.raw': ['.disk.x.part']}


def test_a_name_whose_file_cannot_be_told_stops_the_plan(cache):
    qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'file:unused.raw', '-F', 'raw', str(cache / 'vms' / 'rel'), '1M')
    scan = Scan().walk([str(cache / 'vms')])
    with pytest.raises(CacheScanError) as excinfo:
        require_complete(scan)
    assert 'cannot be resolved' in excinfo.value.msg and 'file:unused.raw' in excinfo.value.msg
    assert 'nothing was removed' in excinfo.value.msg


def test_a_busy_entry_keeps_what_it_uses(tree):
    entries = cache_entries(str(tree / '_base'))
    os.unlink(str(tree / 'vm2' / 'disk'))
    top = key_of(os.stat(str(tree / '_base' / 'b-top.qcow2')))
    planned = plan(entries, Scan().walk([str(tree)]), old=set(entries), busy={top})
    assert names(entries, planned['remove']) == ['unused.raw']
    assert names(entries, planned['busy']) == ['b-top.qcow2'] and names(entries, planned['in_use']) == ['a.raw', 'b.raw']


def test_entries_open_in_a_process_or_locked_by_qemu_are_busy(tree):
    entries = cache_entries(str(tree / '_base'))
    held = str(tree / '_base' / 'unused.raw')
    locked = str(tree / '_base' / 'a.raw')
    holder = subprocess.Popen([sys.executable, '-c', 'import sys, time; f = open(sys.argv[1], "rb"); '
                               'print("ready", flush=True); time.sleep(60)', held], stdout=subprocess.PIPE, text=True)
    qemu = subprocess.Popen(['qemu-io', '-r', '-f', 'raw', '-c', 'sleep 60000', locked], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert holder.stdout.readline().strip() == 'ready'
        for dummy in range(100):
            if any(os.path.realpath(os.path.join('/proc/%d/fd' % qemu.pid, fd)) == locked
                   for fd in os.listdir('/proc/%d/fd' % qemu.pid)):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        reasons, unseen = busy_entries(entries)
    finally:
        holder.kill()
        qemu.kill()
        holder.wait()
        qemu.wait()
    found = dict((os.path.basename(entries[key][0]), reason) for key, reason in reasons.items())
    assert sorted(found) == ['a.raw', 'unused.raw']
    assert 'qemu' in found['a.raw'] and ('open in process %d' % holder.pid) in found['unused.raw']
    assert busy_entries(entries) == ({}, unseen)


def test_changed_tells_a_file_created_or_rewritten_after_the_scan(tree):
    scan = Scan().walk([str(tree)])
    time.sleep(Scan.SETTLE)
    scan = Scan().walk([str(tree)])
    assert scan.changed() == []
    qemu_img('create', '-q', '-f', 'qcow2', '-b', str(tree / '_base' / 'unused.raw'), '-F', 'raw',
             str(tree / 'vm1' / 'new'))
    assert scan.changed() == [str(tree / 'vm1')]
