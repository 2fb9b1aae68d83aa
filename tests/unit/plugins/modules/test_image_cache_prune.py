# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_cache_prune on a small instance tree made with the real qemu-img (no qemu-img runs in the module)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _cache
from ansible_collections.hypervisor.images.plugins.module_utils._atomic import DestinationLock
from ansible_collections.hypervisor.images.plugins.modules import image_cache_prune

DAY = 86400


def qemu_img(*args):
    subprocess.run(['qemu-img'] + list(args), check=True, stdout=subprocess.DEVNULL)


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / 'instances' / '_base'
    base.mkdir(parents=True)
    (tmp_path / 'instances' / 'vm1').mkdir()
    for name in ('used.raw', 'old.raw', 'young.raw'):
        qemu_img('create', '-q', '-f', 'raw', str(base / name), '1M')
        with open(str(base / name), 'r+b') as handle:
            handle.write(b'x' * 4096)
    qemu_img('create', '-q', '-f', 'qcow2', '-b', '../_base/used.raw', '-F', 'raw',
             str(tmp_path / 'instances' / 'vm1' / 'disk'))
    for name in ('used.raw', 'old.raw'):
        age(str(base / name), 2 * DAY)
    return tmp_path / 'instances'


def run(run_module, tree, **kwargs):
    args = {'path': str(tree / '_base')}
    args.update(kwargs.pop('args', {}))
    return run_module(image_cache_prune.main, args, **kwargs)


def test_four_steps(run_module, tree):
    steps = [run(run_module, tree, check_mode=True, diff=True), run(run_module, tree, diff=True),
             run(run_module, tree), run(run_module, tree, check_mode=True)]
    assert [out.result['changed'] for out in steps] == [True, True, False, False]
    check, real = steps[0].result, steps[1].result
    old = str(tree / '_base' / 'old.raw')
    assert check['removed'] == real['removed'] == [old]
    assert check['bytes_freed'] == real['bytes_freed'] > 0
    assert check['diff'] == real['diff']
    names = ('old.raw', 'used.raw', 'young.raw')
    assert real['diff']['before']['entries'] == sorted(str(tree / '_base' / name) for name in names)
    assert old not in real['diff']['after']['entries']
    assert real['kept_in_use'] == {str(tree / '_base' / 'used.raw'): [str(tree / 'vm1' / 'disk')]}
    assert real['kept_young'] == [str(tree / '_base' / 'young.raw')]
    assert sorted(os.listdir(str(tree / '_base'))) == ['used.raw', 'young.raw']


def test_min_age_and_patterns(run_module, tree):
    out = run(run_module, tree, args={'min_age': '3d'})
    assert out.result['removed'] == [] and str(tree / '_base' / 'old.raw') in out.result['kept_young']
    out = run(run_module, tree, args={'min_age': 0, 'patterns': ['y*']})
    assert out.result['removed'] == [str(tree / '_base' / 'young.raw')]
    out = run(run_module, tree, args={'min_age': '1h', 'exclude': ['old*']})
    assert out.result['removed'] == []


def test_an_entry_being_written_is_never_removed(run_module, tree):
    old = str(tree / '_base' / 'old.raw')
    with DestinationLock(old):
        for check_mode in (True, False):
            out = run(run_module, tree, check_mode=check_mode)
            assert out.result['removed'] == [] and out.result['kept_busy'] == [old]
    temp = str(tree / '_base' / '.old.raw.abcd1234.part')
    open(temp, 'w').close()
    out = run(run_module, tree)
    assert out.result['removed'] == [] and out.result['kept_busy'] == [old] and os.path.exists(old)


def test_its_record_and_lock_file_go_with_it(run_module, tree):
    (tree / '_base' / '.old.raw.source.json').write_text('{}')
    out = run(run_module, tree)
    assert out.result['removed'] == [str(tree / '_base' / 'old.raw')]
    assert sorted(os.listdir(str(tree / '_base'))) == ['used.raw', 'young.raw']


@pytest.mark.parametrize('args, words', [
    ({'min_age': 'soon'}, 'cannot read'),
    ({'users': ['/nonexistent/vms']}, '/nonexistent/vms is missing, not a directory'),
])
def test_bad_input_removes_nothing(run_module, tree, args, words):
    out = run(run_module, tree, args=args)
    assert out.failed and words in out.result['msg']
    assert sorted(os.listdir(str(tree / '_base'))) == ['old.raw', 'used.raw', 'young.raw']


def test_a_missing_cache_is_refused(run_module, tree):
    out = run_module(image_cache_prune.main, {'path': str(tree / 'nope')})
    assert out.failed and 'is missing, not a directory' in out.result['msg']


def test_a_busy_entry_keeps_its_base_in_check_mode_as_in_the_real_run(run_module, tree):
    base = tree / '_base'
    qemu_img('create', '-q', '-f', 'qcow2', '-b', 'old.raw', '-F', 'raw', str(base / 'top.qcow2'))
    age(str(base / 'top.qcow2'), 2 * DAY)
    age(str(base / 'old.raw'), 2 * DAY)
    results = []
    with DestinationLock(str(base / 'top.qcow2')):
        for check_mode in (True, False):
            result = run(run_module, tree, check_mode=check_mode).result
            results.append(dict((key, result[key]) for key in (
                'removed', 'kept_busy', 'kept_in_use', 'kept_young', 'busy_reasons', 'bytes_freed', 'changed')))
    assert results[0] == results[1]
    assert results[0]['removed'] == [] and results[0]['kept_busy'] == [str(base / 'top.qcow2')]
    assert results[0]['kept_in_use'][str(base / 'old.raw')] == [str(base / 'top.qcow2')]
    assert 'lock' in results[0]['busy_reasons'][str(base / 'top.qcow2')]
    assert os.path.exists(str(base / 'old.raw'))


@pytest.fixture
def just_after_the_last_check(monkeypatch):
    """Run ``action`` once, as a writer would that opens an entry after the last check of a run and before it goes.

    The last check is the look at /proc that follows a scan that found nothing changed.
    """
    state = {'armed': False, 'action': None}
    changed = _cache.Scan.changed
    holding = _cache.processes_holding

    def scan_changed(self):
        found = changed(self)
        state['armed'] = state['armed'] or not found
        return found

    def processes_holding(keys, *args, **kwargs):
        found = holding(keys, *args, **kwargs)
        if state['armed'] and state['action']:
            action, state['action'] = state['action'], None
            action()
        return found

    monkeypatch.setattr(_cache.Scan, 'changed', scan_changed)
    monkeypatch.setattr(_cache, 'processes_holding', processes_holding)
    return state


def test_an_overlay_made_after_the_last_check_keeps_its_base(run_module, tree, just_after_the_last_check):
    old = str(tree / '_base' / 'old.raw')
    overlay = str(tree / 'vm1' / 'late')
    # qemu-img create -u writes the overlay without opening the base: as one that read it a moment earlier
    just_after_the_last_check['action'] = lambda: qemu_img('create', '-q', '-u', '-f', 'qcow2', '-b', old, '-F', 'raw',
                                                           overlay, '1M')
    result = run(run_module, tree).result
    assert os.path.exists(overlay), 'the writer did not run'
    assert result['removed'] == [] and result['kept_busy'] == [old], result
    assert 'started to use it while it was being removed' in result['busy_reasons'][old]
    assert overlay in result['busy_reasons'][old]
    assert sorted(os.listdir(str(tree / '_base'))) == ['old.raw', 'used.raw', 'young.raw']
    subprocess.run(['qemu-img', 'info', '--backing-chain', overlay], check=True, stdout=subprocess.DEVNULL)
    result = run(run_module, tree).result
    assert result['changed'] is False and result['kept_in_use'][old] == [overlay]


def test_an_entry_opened_after_the_last_check_stays(run_module, tree, just_after_the_last_check):
    old = str(tree / '_base' / 'old.raw')
    holders = []

    def open_it():
        holder = subprocess.Popen(['python3', '-c', 'import sys, time; handle = open(sys.argv[1], "rb"); '
                                   'print("open", flush=True); time.sleep(60)', old], stdout=subprocess.PIPE)
        holders.append(holder)
        assert holder.stdout.readline() == b'open\n'

    just_after_the_last_check['action'] = open_it
    try:
        result = run(run_module, tree).result
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    assert holders, 'the holder did not start'
    assert result['removed'] == [] and result['kept_busy'] == [old], result
    assert 'opened by process %d' % holders[0].pid in result['busy_reasons'][old]
    assert os.path.exists(old) and not os.path.exists(str(tree / '_base' / '.old.raw.removing'))
    assert run(run_module, tree).result['removed'] == [old]


def leave_as_a_killed_run_would(tree, name):
    """The entry ``name`` under the hidden name a run that was killed while it removed it left."""
    base = tree / '_base'
    os.rename(str(base / name), str(base / ('.%s.removing' % name)))
    return str(base / name)


def test_an_entry_a_killed_run_left_hidden_gets_its_name_back(run_module, tree):
    used = leave_as_a_killed_run_would(tree, 'used.raw')
    old = leave_as_a_killed_run_would(tree, 'old.raw')
    steps = [run(run_module, tree, check_mode=True), run(run_module, tree), run(run_module, tree),
             run(run_module, tree, check_mode=True)]
    assert [out.result['changed'] for out in steps] == [True, True, False, False]
    for out in steps[:2]:
        assert out.result['restored'] == [old, used]
        assert out.result['removed'] == [old]  # it was old and unused, so it goes as the killed run meant
        assert out.result['kept_in_use'] == {used: [str(tree / 'vm1' / 'disk')]}
    assert steps[2].result['restored'] == []
    assert sorted(os.listdir(str(tree / '_base'))) == ['used.raw', 'young.raw']
    subprocess.run(['qemu-img', 'info', '--backing-chain', str(tree / 'vm1' / 'disk')], check=True,
                   stdout=subprocess.DEVNULL)


def test_a_hidden_entry_whose_name_was_taken_goes(run_module, tree, monkeypatch):
    warnings = []
    monkeypatch.setattr(image_cache_prune.AnsibleModule, 'warn', lambda self, warning: warnings.append(warning))
    old = leave_as_a_killed_run_would(tree, 'old.raw')
    qemu_img('create', '-q', '-f', 'raw', old, '1M')  # fetched again meanwhile: young, a new file
    hidden = str(tree / '_base' / '.old.raw.removing')
    for check_mode in (True, False):
        out = run(run_module, tree, check_mode=check_mode)
        assert out.result['changed'] is True and out.result['restored'] == []
        assert out.result['removed'] == [hidden] and old in out.result['kept_young']
        assert 'another file has taken its name' in warnings.pop()
    assert not os.path.exists(hidden) and os.path.exists(old)


def test_a_hidden_entry_a_running_prune_holds_is_left_alone(run_module, tree):
    old = leave_as_a_killed_run_would(tree, 'old.raw')
    with DestinationLock(old):
        for check_mode in (True, False):
            out = run(run_module, tree, check_mode=check_mode)
            assert out.result['restored'] == [] and out.result['removed'] == []
    assert os.path.exists(str(tree / '_base' / '.old.raw.removing'))
