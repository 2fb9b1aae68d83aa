# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions, refusals and command lines of image_fetch, with a fake qemu-img and a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.hypervisor.images.plugins.module_utils import _convert, _task
from ansible_collections.hypervisor.images.plugins.module_utils._identity import read_record
from ansible_collections.hypervisor.images.plugins.module_utils._tasks import image_fetch as fetch_task
from ansible_collections.hypervisor.images.plugins.modules import image_fetch
from ansible_collections.hypervisor.images.tests.unit.plugins.local_http import http_server
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU

MiB = 1024 * 1024
# What Ansible's AnsibleModule really does on exit (the run_module fixture replaces both).
REAL_EXIT_JSON = basic.AnsibleModule.exit_json
REAL_FAIL_JSON = basic.AnsibleModule.fail_json


def sha256(path):
    with open(path, 'rb') as handle:
        return 'sha256:' + hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module, tmp_path):
    monkeypatch.setattr(_task, 'QemuImg', fake_qemu.factory)
    monkeypatch.setattr(_convert, 'direct_io_supported', lambda directory: True)
    srv, out = tmp_path / 'srv', tmp_path / 'out'
    srv.mkdir()
    out.mkdir()

    def run(args, **kwargs):
        return run_module(image_fetch.main, args, **kwargs)

    run.fake = fake_qemu
    run.srv = str(srv)
    run.out = str(out)
    run.dest = str(out / 'disk.img')
    run.image = str(srv / 'a.qcow2')
    run.url = 'file://' + run.image
    fake_qemu.make(run.image, 'qcow2', 64 * MiB)
    with open(run.image, 'ab') as handle:
        handle.write(os.urandom(4096))
    return run


@pytest.fixture
def server(module):
    with http_server(module.srv) as running:
        yield running


def leftovers(module):
    return sorted(os.listdir(module.out))


def calls(module, command):
    return [call for call in module.fake.calls if call[1] == command]


# -- the happy paths ------------------------------------------------------------------------

def test_four_steps_with_a_checksum_and_no_request_on_re_runs(module, server):
    args = dict(url=server.url('a.qcow2'), dest=module.dest, checksum=sha256(module.image))
    steps = [module(args, check_mode=True), module(args), module(args), module(args, check_mode=True)]
    assert [step.result['changed'] for step in steps] == [True, True, False, False]
    assert not any(step.failed for step in steps)
    assert server.requests() == {'GET /a.qcow2': 1}
    real, again = steps[1].result, steps[2].result
    assert real['format'] == 'qcow2' and real['checksum'] == args['checksum']
    assert real['downloaded'] == os.path.getsize(module.image) and real['bytes_per_second'] > 0
    assert real['verdict']['safe'] and real['verdict']['reasons'] == [] and real['verdict']['format'] == 'qcow2'
    assert real['record'] == 'xattr' and real['duration'] >= 0
    assert 'downloaded' not in again and 'verdict' not in again
    assert open(module.dest, 'rb').read() == open(module.image, 'rb').read()
    assert leftovers(module) == ['disk.img']


def test_the_download_is_inspected_with_an_explicit_format_then_reported(module):
    out = module(dict(url=module.url, dest=module.dest))
    assert not out.failed, out.result
    (scratch, dest) = calls(module, 'info')
    assert scratch[:-1] == [QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--']
    assert os.path.basename(scratch[-1]).startswith('.disk.img.') and scratch[-1].endswith('.part')
    assert dest == [QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--', module.dest]
    assert module.fake.changing_calls() == []
    module.fake.calls[:] = []
    again = module(dict(url=module.url, dest=module.dest))
    assert again.result['changed'] is False
    assert module.fake.calls == [dest]  # a file URL's identity decides; only dest's facts are read


def test_without_a_checksum_a_conditional_request_decides(module, server):
    args = dict(url=server.url('a.qcow2'), dest=module.dest)
    first = module(args)
    assert first.result['checksum'] == sha256(module.image)  # sha256 when no checksum is given
    again = module(args)
    check = module(args, check_mode=True)
    assert (again.result['changed'], check.result['changed']) == (False, False)
    assert again.result['etag'] == first.result['etag'] and first.result['last_modified']
    assert server.requests() == {'GET /a.qcow2': 2, 'HEAD /a.qcow2': 1}


def test_check_mode_says_so_when_a_server_does_not_answer_head(module, server):
    args = dict(url=server.url('nohead/a.qcow2'), dest=module.dest)
    module(args)
    check = module(args, check_mode=True)
    assert check.result['changed'] is True and 'does not answer HEAD (HTTP 405)' in check.result['reason']
    assert module(args).result['changed'] is False  # the conditional GET answers 304
    assert server.requests() == {'GET /nohead/a.qcow2': 2, 'HEAD /nohead/a.qcow2': 1}


def test_a_changed_image_on_the_server_is_fetched_again(module, server):
    args = dict(url=server.url('a.qcow2'), dest=module.dest)
    module(args)
    with open(module.image, 'ab') as handle:
        handle.write(b'new data')
    check = module(args, check_mode=True)
    real = module(args)
    assert check.result['changed'] and real.result['changed']
    assert 'changed since it was fetched (ETag' in real.result['reason']
    assert open(module.dest, 'rb').read() == open(module.image, 'rb').read()


def test_a_server_without_validators_sends_it_again_and_the_same_content_is_kept(module, server):
    args = dict(url=server.url('plain/a.qcow2'), dest=module.dest)
    module(args)
    before = os.stat(module.dest)
    again = module(args)
    assert again.result['changed'] is False and 'reason' not in again.result
    assert again.result['downloaded'] == os.path.getsize(module.image)
    assert again.result['record'] == 'xattr'
    after = os.stat(module.dest)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert server.requests() == {'GET /plain/a.qcow2': 2}
    assert leftovers(module) == ['disk.img']


def test_a_checksum_from_a_list_costs_one_small_request_on_re_runs(module, server):
    with open(os.path.join(module.srv, 'SHA256SUMS'), 'w') as handle:
        handle.write('%s  other.img\n%s  a.qcow2\n' % ('0' * 64, sha256(module.image)[len('sha256:'):]))
    args = dict(url=server.url('a.qcow2'), dest=module.dest, checksum='sha256:' + server.url('SHA256SUMS'))
    assert module(args).result['changed'] is True
    assert module(args).result['changed'] is False
    assert server.requests() == {'GET /a.qcow2': 1, 'GET /SHA256SUMS': 2}


@pytest.mark.parametrize('compress, suffix', [(gzip.compress, '.gz'), (gzip.compress, '')])
def test_a_compressed_image_is_decompressed_and_its_checksum_is_of_the_download(module, compress, suffix):
    packed = module.image + '.pack' + suffix
    with open(module.image, 'rb') as src, open(packed, 'wb') as dst:
        dst.write(compress(src.read()))
    out = module(dict(url='file://' + packed, dest=module.dest, checksum=sha256(packed)))
    assert not out.failed, out.result
    assert out.result['compression'] == 'gz' and out.result['downloaded'] == os.path.getsize(packed)
    assert open(module.dest, 'rb').read() == open(module.image, 'rb').read()


def test_to_raw_converts_the_checked_download_into_place(module):
    out = module(dict(url=module.url, dest=module.dest, to_raw=True))
    assert not out.failed, out.result
    (measure,) = calls(module, 'measure')
    (convert,) = calls(module, 'convert')
    scratch = calls(module, 'info')[0][-1]
    assert measure == [QEMU, 'measure', '--output=json', '-f', 'qcow2', '-O', 'raw', '--', scratch]
    assert convert[:-1] == [QEMU, 'convert', '-q', '-f', 'qcow2', '-O', 'raw', '-t', 'none', '--', scratch]
    assert convert[-1].endswith('.part') and convert[-1] != scratch
    assert out.result['cmd'] == convert and out.result['cache_mode'] == 'none'
    assert out.result['format'] == 'raw' and out.result['required_bytes'] == module.fake.measure_required
    assert read_record(module.dest)['source']['format'] == 'raw'
    assert leftovers(module) == ['disk.img']
    module.fake.calls[:] = []
    assert module(dict(url=module.url, dest=module.dest, to_raw=True)).result['changed'] is False
    assert module.fake.calls == [[QEMU, 'info', '--output=json', '-U', '-f', 'raw', '--', module.dest]]


def test_to_raw_takes_a_raw_image_as_it_is(module):
    raw = os.path.join(module.srv, 'a.raw')
    module.fake.make(raw, 'raw', 1 * MiB)
    out = module(dict(url='file://' + raw, dest=module.dest, to_raw=True))
    assert out.result['format'] == 'raw' and 'cmd' not in out.result
    assert calls(module, 'convert') == []


def test_file_attributes_are_applied_before_the_rename(module):
    module(dict(url=module.url, dest=module.dest, mode='0600'))
    assert os.stat(module.dest).st_mode & 0o777 == 0o600
    assert module(dict(url=module.url, dest=module.dest, mode='0640')).result['changed'] is True
    assert os.stat(module.dest).st_mode & 0o777 == 0o640


def test_diff_shows_the_image_before_and_after(module):
    out = module(dict(url=module.url, dest=module.dest), diff=True)
    assert out.result['diff']['before'] == {'path': module.dest, 'state': 'absent'}
    after = out.result['diff']['after']
    assert (after['state'], after['format'], after['url'], after['checksum']) == (
        'present', 'qcow2', module.url, sha256(module.image))


# -- the decision on an existing dest -------------------------------------------------------

@pytest.mark.parametrize('change, reason', [
    (dict(to_raw=True), 'to_raw was False, now True'),
    (dict(allowed_formats=['qcow2']), "allowed_formats was ['qcow2', 'raw'], now ['qcow2']"),
    (dict(checksum='sha256:' + '1' * 64), 'the checksum was sha256:'),
])
def test_a_changed_setting_or_checksum_fetches_again(module, change, reason):
    module(dict(url=module.url, dest=module.dest, checksum=sha256(module.image)))
    out = module(dict(dict(url=module.url, dest=module.dest, checksum=sha256(module.image)), **change),
                 check_mode=True)
    assert out.result['changed'] is True and reason in out.result['reason']


def test_another_url_fetches_again(module):
    module(dict(url=module.url, dest=module.dest))
    other = module.image + '.copy'
    shutil.copy(module.image, other)
    out = module(dict(url='file://' + other, dest=module.dest))
    assert out.result['changed'] and out.result['reason'] == 'it was made from %s' % module.url


def test_force_always_fetches(module, server):
    args = dict(url=server.url('a.qcow2'), dest=module.dest, checksum=sha256(module.image))
    module(args)
    out = module(dict(args, force=True))
    assert out.result['changed'] is True and out.result['reason'] == 'force is set'
    assert server.requests() == {'GET /a.qcow2': 2}


def test_check_mode_requests_nothing_for_a_missing_dest(module, server):
    out = module(dict(url=server.url('a.qcow2'), dest=module.dest, to_raw=True), check_mode=True)
    assert out.result['changed'] is True and out.result['format'] == 'raw'
    assert server.requests() == {}
    assert leftovers(module) == [] and module.fake.calls == []


def test_a_copy_without_a_record_is_adopted_once_with_a_checksum(module):
    shutil.copy(module.image, module.dest)
    args = dict(url=module.url, dest=module.dest, checksum=sha256(module.image))
    check, real, again = module(args, check_mode=True), module(args), module(args)
    assert [step.result['changed'] for step in (check, real, again)] == [False, False, False]
    assert check.result['adopted'] and 'record' not in check.result
    assert real.result['adopted'] and real.result['record'] == 'xattr'
    assert 'adopted' not in again.result
    assert read_record(module.dest)['source']['checksum'] == args['checksum']


@pytest.mark.parametrize('args, message', [
    ({}, 'without checksum it cannot be compared'),
    ({'checksum': 'sha256:' + '1' * 64}, 'and its checksum is sha256:'),
    ({'to_raw': True, 'checksum': 'CHECKSUM'}, 'with to_raw it would be converted to raw'),
    ({'decompress': 'gz', 'checksum': 'CHECKSUM'}, 'the download would be decompressed'),
])
def test_a_file_without_a_record_is_refused_and_kept(module, args, message):
    shutil.copy(module.image, module.dest)
    if args.get('checksum') == 'CHECKSUM':
        args = dict(args, checksum=sha256(module.image))
    out = module(dict(dict(url=module.url, dest=module.dest), **args))
    assert out.failed and message in out.result['msg']
    assert 'force: true' in out.result['msg']
    assert sha256(module.dest) == sha256(module.image) and read_record(module.dest) is None


# -- refusals: nothing at dest, nothing left behind -------------------------------------------

def refused(module, out, message):
    assert out.failed, out.result
    assert message in out.result['msg'], out.result['msg']
    assert out.result['changed'] is False
    assert leftovers(module) == []


def test_a_wrong_checksum_is_refused(module):
    out = module(dict(url=module.url, dest=module.dest, checksum='sha256:' + '1' * 64))
    refused(module, out, 'is %s, not the expected sha256:%s' % (sha256(module.image), '1' * 64))
    assert out.result['checksum'] == sha256(module.image)


def test_a_wrong_checksum_leaves_an_existing_image_alone(module):
    module(dict(url=module.url, dest=module.dest))
    before = sha256(module.dest)
    out = module(dict(url=module.url, dest=module.dest, checksum='sha256:' + '1' * 64, force=True))
    assert out.failed and sha256(module.dest) == before
    assert leftovers(module) == ['disk.img']


@pytest.mark.parametrize('claimed, source, reason', [
    ('raw', 'qcow2', 'it was declared as raw but its header says qcow2: read as raw, a guest would see that header'),
    ('qcow2', 'raw', 'it was declared as qcow2 but no qcow2 header was found'),
])
def test_a_claimed_format_the_header_denies_is_refused(module, claimed, source, reason):
    path = os.path.join(module.srv, 'image')
    module.fake.make(path, source, MiB)
    out = module(dict(url='file://' + path, dest=module.dest, format=claimed))
    refused(module, out, reason)
    assert out.result['verdict']['safe'] is False
    assert out.result['verdict']['reasons'][0]['message'].startswith(reason)
    assert out.result['verdict']['reasons'][0]['code'] == 'format_mismatch'


def test_a_format_outside_allowed_formats_is_refused_without_running_qemu_img(module):
    path = os.path.join(module.srv, 'a.vmdk')
    with open(path, 'wb') as handle:
        handle.write(b'KDMV'.ljust(512, b'\0'))
    out = module(dict(url='file://' + path, dest=module.dest))
    refused(module, out, 'its format vmdk is not in allowed_formats (raw, qcow2)')
    assert module.fake.calls == []


@pytest.mark.parametrize('key, value, reason', [
    ('backing-filename', '/etc/shadow', "qemu-img info reports a backing file '/etc/shadow' that the header check"),
    ('format-specific', {'type': 'qcow2', 'data': {'data-file': '/dev/sda'}},
     "qemu-img info reports an external data file '/dev/sda'"),
])
def test_an_image_that_names_other_files_is_refused(module, key, value, reason):
    answer = module.fake.answer

    def hostile(argv):
        rc, stdout, stderr = answer(argv)
        if argv[1] == 'info' and argv[-1].endswith('.part'):
            stdout = json.dumps(dict(json.loads(stdout), **{key: value}))
        return rc, stdout, stderr

    module.fake.answer = hostile
    refused(module, module(dict(url=module.url, dest=module.dest)), reason)


def test_an_image_qemu_img_does_not_read_as_its_format_is_refused(module):
    module.fake.fail_on['info'] = (1, "qemu-img: Could not open 'x': Image is not in qcow2 format")
    out = module(dict(url=module.url, dest=module.dest))
    refused(module, out, 'qemu-img does not read it as qcow2: qemu-img info for')


def test_a_stream_past_max_size_is_stopped(module):
    out = module(dict(url='file:///dev/zero', dest=module.dest, max_size='4M'))
    refused(module, out, 'file:///dev/zero sent more than 4.0 MiB (4194304 bytes)')
    assert 'That is max_size' in out.result['msg']


def test_without_max_size_the_stream_is_bound_by_the_free_space(module, monkeypatch):
    monkeypatch.setattr(fetch_task, 'fs_usage', lambda path: {'total': 9 * MiB, 'free': 3 * MiB, 'used': 6 * MiB})
    out = module(dict(url='file:///dev/zero', dest=module.dest))
    refused(module, out, 'sent more than 3.0 MiB')
    assert 'the free space of the file system holding %s' % module.out in out.result['msg']
    out = module(dict(url='file:///dev/zero', dest=module.dest, check_free_space=False))
    refused(module, out, 'sent more than 9.0 MiB')


def test_a_content_length_past_max_size_or_the_free_space_is_refused_before_reading(module, server, monkeypatch):
    big = os.path.join(module.srv, 'big.raw')
    with open(big, 'wb') as handle:
        handle.write(os.urandom(2 * MiB))
    out = module(dict(url=server.url('big.raw'), dest=module.dest, max_size='1M'))
    refused(module, out, 'is 2.0 MiB (2097152 bytes) according to its Content-Length, more than max_size')
    monkeypatch.setattr(_convert, 'fs_usage', lambda path: {'total': 9 * MiB, 'free': 1 * MiB, 'used': 8 * MiB})
    out = module(dict(url=server.url('big.raw'), dest=module.dest))
    refused(module, out, 'Not enough space to fetch %s into %s: the result needs 2.0 MiB (2097152 bytes) according '
                         'to its Content-Length' % (server.url('big.raw'), module.dest))
    assert module(dict(url=server.url('big.raw'), dest=module.dest, check_free_space=False)).result['changed']


def test_a_conversion_that_does_not_fit_is_refused(module, monkeypatch):
    monkeypatch.setattr(_convert, 'fs_usage', lambda path: {'total': 9 * MiB, 'free': 1 * MiB, 'used': 8 * MiB})
    module.fake.measure_required = 5 * MiB
    out = module(dict(url=module.url, dest=module.dest, to_raw=True))
    refused(module, out, 'Not enough space to convert the download of %s into %s: the result needs 5.0 MiB'
                         % (module.url, module.dest))
    assert calls(module, 'convert') == []


def test_a_failed_conversion_leaves_nothing(module):
    module.fake.fail_on['convert'] = (1, 'qemu-img: error while writing: No space left on device')
    out = module(dict(url=module.url, dest=module.dest, to_raw=True))
    refused(module, out, 'ran out of space')


@pytest.mark.parametrize('path, message', [
    ('status/500/big.raw', 'answered HTTP 500'),
    ('stall/3/big.raw', 'timed out (timeout: 1 s)'),
    ('stall-body/3/big.raw', 'stopped: no data for longer than the timeout'),
])
def test_server_failures_leave_nothing(module, server, path, message):
    with open(os.path.join(module.srv, 'big.raw'), 'wb') as handle:
        handle.write(os.urandom(256 * 1024))  # more than the server sends before it stalls
    refused(module, module(dict(url=server.url(path), dest=module.dest, timeout=1)), message)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize('args, message', [
    ({'url': 'ftp://example.com/a.img'}, "has the scheme 'ftp'"),
    ({'url': 'http://ops:pw@[::1/a.img'}, 'url: http://****@[::1/a.img is not a URL'),
    ({'checksum': 'sha256:abc'}, 'is not a sha256 digest'),
    ({'checksum': 'whirl:abc'}, "'whirl' is not a hash algorithm"),
    ({'format': 'vmdk'}, 'format: vmdk is not in allowed_formats (raw, qcow2)'),
    ({'allowed_formats': []}, 'allowed_formats is empty'),
    ({'timeout': 0}, 'timeout: 0 must be a positive number'),
    ({'max_size': 'lots'}, 'max_size'),
    ({'url': 'file:///nonexistent/a.img'}, '/nonexistent/a.img does not exist'),
    ({'url': 'file:///tmp'}, '/tmp is a directory; a file URL must name a regular file or a character device'),
])
def test_bad_input_fails_before_anything_is_read(module, args, message):
    out = module(dict(dict(url=module.url, dest=module.dest), **args))
    assert out.failed and message in out.result['msg'], out.result['msg']
    assert module.fake.calls == [] and leftovers(module) == []


def test_dest_must_be_a_file_in_an_existing_directory(module):
    out = module(dict(url=module.url, dest=module.out))
    assert out.failed and 'is a directory, not an image file: give the path of the image file' in out.result['msg']
    out = module(dict(url=module.url, dest=os.path.join(module.out, 'missing', 'disk.img')))
    assert out.failed and 'does not exist. Create it first' in out.result['msg']


# -- passwords in URLs -------------------------------------------------------------------------

PASSWORD = 'Secr3t-pw%21'  # URL-encoded: the user's password is Secr3t-pw!


def with_password(url):
    return url.replace('http://', 'http://ops:%s@' % PASSWORD, 1)


@pytest.fixture
def printed(module, monkeypatch, capsys):
    """Run the module with AnsibleModule's own exit_json and fail_json; what it printed, and whether it failed."""
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', REAL_EXIT_JSON)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', REAL_FAIL_JSON)

    def run(args):
        capsys.readouterr()
        with pytest.raises(SystemExit) as excinfo:
            module(args)
        out = capsys.readouterr().out
        return json.loads(out[out.index('{'):]), bool(excinfo.value.code)

    return run


@pytest.mark.parametrize('case', ['fetched', 'not found', 'list without it', 'invalid option', 'check mode'])
def test_passwords_in_urls_are_masked_in_all_the_module_returns(module, server, printed, case):
    with open(os.path.join(module.srv, 'SHA256SUMS'), 'w') as handle:
        handle.write('%s  a.qcow2\n' % sha256(module.image)[len('sha256:'):])
    args = dict(url=with_password(server.url('a.qcow2')), dest=module.dest,
                checksum='sha256:' + with_password(server.url('SHA256SUMS')))
    failed = case in ('not found', 'list without it', 'invalid option')
    if case == 'not found':
        args['url'] = with_password(server.url('status/404/a.qcow2'))
    elif case == 'list without it':
        args['url'] = with_password(server.url('b.qcow2'))
    elif case == 'invalid option':
        args['format'] = 'floppy'  # refused by the argument spec, before the module is made
    elif case == 'check mode':
        args['_ansible_check_mode'] = True
    if 'inject_invocation' in PASS_VARS:
        # ansible-core 2.21 returns the invocation only when asked to (ANSIBLE_INJECT_INVOCATION)
        args['_ansible_inject_invocation'] = True
    result, exited_failed = printed(args)
    assert exited_failed == failed and result.get('failed', False) == failed, result
    text = json.dumps(result)
    assert PASSWORD not in text and 'Secr3t-pw!' not in text, text
    assert result['invocation']['module_args']['url'].startswith('http://ops:********@127.0.0.1:')
    assert result['invocation']['module_args']['checksum'].startswith('sha256:http://ops:********@127.0.0.1:')
    if case == 'fetched':
        assert result['changed'] and result['url'].startswith('http://****:****@127.0.0.1:')
        assert os.path.exists(module.dest)
