# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.hypervisor.images.plugins.modules import fs_headroom

GIB = 1024 ** 3
MIB = 1024 ** 2


@pytest.fixture
def module(monkeypatch, run_module):
    """fs_headroom with a 100 GiB file system of which 30 GiB are free (and 2 GiB reserved for root)."""
    usage = {'total': 100 * GIB, 'free': 30 * GIB, 'used': 68 * GIB}
    probes = []

    def fake_usage(path):
        return dict(usage)

    def fake_probe(directory):
        probes.append(directory)
        return True

    monkeypatch.setattr(fs_headroom, 'fs_usage', fake_usage)
    monkeypatch.setattr(fs_headroom, 'direct_io_supported', fake_probe)
    monkeypatch.setattr(fs_headroom, 'mount_of', lambda path: {
        'mount_point': '/var/lib/nova', 'device': '/dev/mapper/vg-nova', 'fstype': 'xfs'})

    def run(args, **kwargs):
        return run_module(fs_headroom.main, args, **kwargs)

    run.usage = usage
    run.probes = probes
    return run


def test_reports_without_thresholds(module, tmp_path):
    out = module({'path': str(tmp_path)})
    assert not out.failed
    assert out.result == {
        'changed': False, 'path': str(tmp_path), 'measured_path': str(tmp_path),
        'total': 100 * GIB, 'free': 30 * GIB, 'used': 68 * GIB, 'free_percent': 30.0,
        'mount_point': '/var/lib/nova', 'device': '/dev/mapper/vg-nova', 'fstype': 'xfs',
        'supports_direct_io': True, 'required': 0, 'min_free': 0, 'free_after': 30 * GIB, 'shortfall': 0,
    }
    assert module.probes == [str(tmp_path)]


def test_a_path_that_does_not_exist_yet_measures_its_nearest_parent(module, tmp_path):
    out = module({'path': str(tmp_path / 'instances' / '_base')})
    assert out.result['path'] == str(tmp_path / 'instances' / '_base')
    assert out.result['measured_path'] == str(tmp_path)
    assert module.probes == [str(tmp_path)]
    assert not os.path.exists(str(tmp_path / 'instances'))


def test_an_existing_file_is_probed_in_its_directory(module, tmp_path):
    (tmp_path / 'disk').write_bytes(b'')
    out = module({'path': str(tmp_path / 'disk')})
    assert out.result['measured_path'] == str(tmp_path / 'disk')
    assert module.probes == [str(tmp_path)]


@pytest.mark.parametrize('args', [
    {'min_free': '30G'},
    {'min_free_percent': 30},
    {'required': '30G'},
    {'required': '10G', 'min_free': '20G', 'min_free_percent': 20},
    {'required': 10 * GIB, 'min_free': str(20 * GIB)},
    {'required': ['10G', '512M', '9.5G', 10 * GIB]},
])
def test_passes_when_exactly_enough_is_left(module, tmp_path, args):
    out = module(dict(args, path=str(tmp_path)))
    assert not out.failed and out.result['shortfall'] == 0


@pytest.mark.parametrize('args, min_free, shortfall', [
    ({'min_free': '31G'}, 31 * GIB, GIB),
    ({'min_free_percent': 31}, 31 * GIB, GIB),
    ({'required': '31G'}, 0, GIB),
    ({'required': '10G', 'min_free': '21G'}, 21 * GIB, GIB),
    ({'required': '10G', 'min_free': '1G', 'min_free_percent': 25}, 25 * GIB, 5 * GIB),
])
def test_fails_when_free_less_required_misses_a_threshold(module, tmp_path, args, min_free, shortfall):
    out = module(dict(args, path=str(tmp_path)))
    assert out.failed
    assert out.result['min_free'] == min_free
    assert out.result['shortfall'] == shortfall
    assert out.result['free'] == 30 * GIB and out.result['mount_point'] == '/var/lib/nova'
    assert out.result['changed'] is False


def test_a_list_of_sizes_is_added_up(module, tmp_path):
    out = module({'path': str(tmp_path), 'required': ['20G', '10G', '1']})
    assert out.failed and out.result['required'] == 30 * GIB + 1 and out.result['shortfall'] == 1
    assert '30.0 GiB (32212254721 bytes) to write' in out.result['msg']


def test_failure_message_names_path_mount_free_required_and_shortfall(module, tmp_path):
    path = str(tmp_path / 'instances')
    out = module({'path': path, 'required': '20G', 'min_free': '15G'})
    assert out.failed
    assert out.result['msg'] == (
        'Not enough free space for %s: the file system mounted on /var/lib/nova (/dev/mapper/vg-nova) has '
        '30.0 GiB (32212254720 bytes) free, and 35.0 GiB (37580963840 bytes) is required (20.0 GiB (21474836480 bytes) '
        'to write plus 15.0 GiB (16106127360 bytes) to keep free, by min_free); it falls short by '
        '5.0 GiB (5368709120 bytes). Free space there, move the instances to a larger file system, or lower the '
        'thresholds.' % path)


def test_failure_message_explains_both_thresholds(module, tmp_path):
    out = module({'path': str(tmp_path), 'min_free': '1G', 'min_free_percent': 40.5})
    assert out.failed
    assert ('40.5 GiB (43486543872 bytes) to keep free, by the larger of min_free 1.0 GiB (1073741824 bytes) '
            'and min_free_percent 40.5% of 100.0 GiB (107374182400 bytes)') in out.result['msg']
    assert 'to write' not in out.result['msg']
    assert 'falls short by 10.5 GiB (11274289152 bytes)' in out.result['msg']


def test_percent_is_rounded_up_to_a_whole_byte():
    assert fs_headroom.percent_of(1000, 33.3) == 333
    assert fs_headroom.percent_of(1001, 10) == 101
    assert fs_headroom.percent_of(7, 0) == 0


def test_check_mode_decides_the_same(module, tmp_path):
    ok = module({'path': str(tmp_path), 'min_free': '1G'}, check_mode=True)
    short = module({'path': str(tmp_path), 'min_free': '1T'}, check_mode=True)
    assert not ok.failed and ok.result['changed'] is False
    assert short.failed and 'falls short by' in short.result['msg']


@pytest.mark.parametrize('args, fragment', [
    ({'min_free': '10X'}, "min_free: cannot read '10X' as a size"),
    ({'required': '-1G'}, "required: cannot read '-1G' as a size"),
    ({'required': ['1G', 'lots']}, "required: cannot read 'lots' as a size"),
    ({'min_free_percent': 101}, 'min_free_percent: 101.0 is not a percentage from 0 to 100'),
    ({'min_free_percent': -1}, 'min_free_percent: -1.0 is not a percentage'),
])
def test_bad_values_are_refused_before_measuring(module, tmp_path, args, fragment):
    out = module(dict(args, path=str(tmp_path)))
    assert out.failed and fragment in out.result['msg']
    assert module.probes == []


def test_empty_file_system_has_zero_percent_free(module, tmp_path):
    module.usage.update(total=0, free=0, used=0)
    out = module({'path': str(tmp_path)})
    assert out.result['free_percent'] == 0.0 and not out.failed


def test_a_probe_that_cannot_run_is_reported_as_unknown(module, monkeypatch, tmp_path):
    def denied(directory):
        raise OSError(errno.EROFS, 'Read-only file system')

    monkeypatch.setattr(fs_headroom, 'direct_io_supported', denied)
    out = module({'path': str(tmp_path)})
    assert not out.failed
    assert out.result['supports_direct_io'] is None


def test_measuring_fails_with_the_reason(module, monkeypatch, tmp_path):
    def broken(path):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(fs_headroom, 'fs_usage', broken)
    out = module({'path': str(tmp_path)})
    assert out.failed and out.result['msg'] == 'Cannot measure the file system of %s at %s: Input/output error.' % (
        tmp_path, tmp_path)


def test_real_file_system(run_module, tmp_path):
    out = run_module(fs_headroom.main, {'path': str(tmp_path / 'not' / 'yet')})
    st = os.statvfs(str(tmp_path))
    assert not out.failed
    assert out.result['total'] == st.f_frsize * st.f_blocks
    assert out.result['supports_direct_io'] in (True, False)
    assert out.result['mount_point'] and str(tmp_path).startswith(out.result['mount_point'])
    assert os.listdir(str(tmp_path)) == []
