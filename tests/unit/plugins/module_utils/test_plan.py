# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan's entries: validated against their own module's options, and put in dependency order."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._plan import PlanError, order, parse_entries


def entries(*raw, **defaults):
    return [entry for entry, dummy in parse_entries(list(raw), defaults)]


def labels(ordered):
    return [entry.index for entry in ordered]


def test_an_entry_runs_after_the_entries_that_make_its_inputs():
    plan = entries(
        {'cow_image': {'path': '/i/vm/disk', 'backing_file': '/i/_base/b.raw', 'backing_format': 'raw'}},
        {'sparse_copy': {'src': '/i/_base/b.raw', 'dest': '/i/vm/flat'}},
        {'image_convert': {'src': '/i/_base/b.qcow2', 'dest': '/i/_base/b.raw', 'dest_format': 'raw'}},
        {'qemu_image': {'path': '/i/_base/b.qcow2', 'size': '1G'}},
    )
    assert labels(order(plan)) == [4, 3, 1, 2]


def test_file_systems_come_after_their_image_and_in_the_order_given():
    plan = entries(
        {'mkfs': {'dev': '/i/vm/eph', 'fstype': 'ext4'}},
        {'hypervisor.images.mkfs': {'dev': '/i/vm/eph', 'fstype': 'xfs', 'force': True}},
        {'qemu_image': {'path': '/i/vm/eph', 'format': 'raw', 'size': '1G'}},
    )
    assert labels(order(plan)) == [3, 1, 2]


def test_a_cycle_is_refused_naming_its_entries():
    plan = entries(
        {'image_convert': {'src': '/i/a', 'dest': '/i/b', 'dest_format': 'raw'}},
        {'image_convert': {'src': '/i/b', 'dest': '/i/a', 'dest_format': 'raw'}},
    )
    with pytest.raises(PlanError) as excinfo:
        order(plan)
    assert 'cycle' in excinfo.value.msg and 'entry 1 (image_convert /i/b)' in excinfo.value.msg


@pytest.mark.parametrize('raw, words', [
    ({'qemu_image': {'path': '/i/x', 'size': '1G'}, 'cow_image': {}}, 'one key'),
    ({'shell': {'cmd': 'qemu-img create'}}, "runs 'shell'"),
    ({'qemu_image': '/i/x'}, 'as a mapping'),
    ({'qemu_image': {'size': '1G'}}, 'path'),
    ({'mkfs': {'dev': '/i/x', 'fstype': 'ext4', 'mode': '0600'}}, 'mode'),
    ({'qemu_image': {'path': '/i/x', 'format': 'vhdx2'}}, 'format'),
])
def test_bad_entries_are_refused_naming_the_entry(raw, words):
    with pytest.raises(PlanError) as excinfo:
        entries({'qemu_image': {'path': '/i/ok', 'size': '1G'}}, raw)
    assert 'entry 2' in excinfo.value.msg and words in excinfo.value.msg


def test_defaults_reach_the_modules_that_take_them_only():
    plan = entries({'qemu_image': {'path': '/i/x', 'size': '1G'}},
                   {'qemu_image': {'path': '/i/y', 'size': '1G', 'mode': '0600'}},
                   {'mkfs': {'dev': '/i/x', 'fstype': 'ext4'}}, owner='nova', mode='0640')
    assert (plan[0].params['owner'], plan[0].params['mode']) == ('nova', '0640')
    assert plan[1].params['mode'] == '0600'
    assert 'mode' not in plan[2].params and 'owner' not in plan[2].params
