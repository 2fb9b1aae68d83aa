# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pieces of a fetch: URLs, checksums and their lists, compression, the one-pass sink, requests."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import threading

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._fetch import (
    CHUNK,
    Decompressor,
    FetchError,
    Sink,
    checksum_url,
    choose_compression,
    mask_url,
    expected_checksum,
    fetch_record,
    file_url_path,
    hash_file,
    parse_checksum,
    pump,
    record_reasons,
    request,
    sums_digest,
    url_filename,
    url_passwords,
    url_problem,
    would_decompress,
)
from ansible_collections.hypervisor.images.tests.unit.plugins.local_http import http_server

MiB = 1024 * 1024
SHA = hashlib.sha256(b'image').hexdigest()


class FakeModule:
    """What fetch_url reads of a module."""

    def __init__(self, tmp_path):
        self.tmpdir = str(tmp_path)
        self.params = {'validate_certs': True, 'url_username': None, 'url_password': None, 'http_agent': 'test',
                       'force_basic_auth': False, 'client_cert': None, 'client_key': None, 'use_gssapi': False,
                       'use_proxy': False}

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


# -- URLs ---------------------------------------------------------------------------------

@pytest.mark.parametrize('url, problem', [
    ('https://example.com/a.img', None),
    ('http://user:secret@example.com/a.img', None),
    ('file:///srv/a.img', None),
    ('file://localhost/srv/a.img', None),
    ('ftp://example.com/a.img', "has the scheme 'ftp'"),
    ('/srv/a.img', "has the scheme ''"),
    ('file://server/srv/a.img', 'file://server/srv/a.img names a host'),
    ('http:///a.img', 'names no host'),
    ('http://ops:pw@[::1/a.img', 'url: http://****@[::1/a.img is not a URL (Invalid IPv6 URL)'),
])
def test_url_problem(url, problem):
    found = url_problem(url)
    assert (found is None) if problem is None else (problem in found)


def test_a_refused_url_keeps_its_password_out_of_the_message():
    assert 'secret' not in url_problem('ftp://user:secret@example.com/a.img')


def test_file_urls_name_unquoted_paths_and_file_names_come_from_the_path():
    assert file_url_path('file:///srv/my%20images/a.img') == '/srv/my images/a.img'
    assert file_url_path('https://example.com/a.img') is None
    assert url_filename('https://example.com/x/noble%2B1.img?sig=abc') == 'noble+1.img'


# -- checksums ----------------------------------------------------------------------------

def test_parse_checksum_reads_digests_as_get_url_does():
    checksum = parse_checksum('SHA256: %s\u200b' % SHA.upper())
    assert (checksum.algorithm, checksum.digest, checksum.url) == ('sha256', SHA, None)
    assert str(checksum) == 'sha256:' + SHA


def test_parse_checksum_takes_a_list_url():
    checksum = parse_checksum('sha512:https://example.com/SHA512SUMS')
    assert (checksum.algorithm, checksum.digest, checksum.url) == ('sha512', None, 'https://example.com/SHA512SUMS')


@pytest.mark.parametrize('value, message', [
    ('9f86d081', 'must be ALGORITHM:DIGEST'),
    ('sha256:', 'must be ALGORITHM:DIGEST'),
    ('nosuchhash:abcd', "'nosuchhash' is not a hash algorithm"),
    ('shake_128:abcd', 'no fixed length'),
    ('sha256:abcd', 'is not a sha256 digest (64 hexadecimal digits)'),
    ('md5:' + 'g' * 32, 'is not a md5 digest'),
    ('sha256:file://host/SUMS', 'file://host/SUMS names a host'),
    ('sha256:https://ops:pw@[::1/SUMS', 'the list of digests https://****@[::1/SUMS is not a URL'),
])
def test_parse_checksum_refuses_what_it_cannot_use(value, message):
    with pytest.raises(FetchError) as excinfo:
        parse_checksum(value)
    assert message in excinfo.value.msg


SUMS = '''# a comment
%s  other.img
%s  noble.img
%s *star.img
%s ./dotted.img
SHA512 (bsd.img) = %s
SHA256 (bsd.img) = %s
''' % ('1' * 64, '2' * 64, '3' * 64, '4' * 64, '5' * 128, '6' * 64)


@pytest.mark.parametrize('name, algorithm, digest', [
    ('noble.img', 'sha256', '2' * 64),
    ('star.img', 'sha256', '3' * 64),
    ('dotted.img', 'sha256', '4' * 64),
    ('bsd.img', 'sha256', '6' * 64),
    ('bsd.img', 'sha512', '5' * 128),
    ('missing.img', 'sha256', None),
])
def test_sums_digest_reads_gnu_and_bsd_lists(name, algorithm, digest):
    assert sums_digest(SUMS, name, algorithm) == digest


NEAR = '%s  ../good.qcow2\n%s  .x\n%s  sub/good.qcow2\n%s  .good.qcow2\nSHA256 (../bsd.img) = %s\n' % (
    '1' * 64, '2' * 64, '3' * 64, '4' * 64, '5' * 64)


@pytest.mark.parametrize('name', ['good.qcow2', 'x', 'bsd.img'])
def test_names_that_only_look_alike_are_not_the_file(name):
    assert sums_digest(NEAR, name, 'sha256') is None


@pytest.mark.parametrize('line, name', [
    ('%s  ./good.qcow2', 'good.qcow2'),
    ('%s *good.qcow2', 'good.qcow2'),
    ('%s *./good.qcow2', 'good.qcow2'),
    ('%s  ../good.qcow2', '../good.qcow2'),
    ('%s  .x', '.x'),
    ('%s  sub/good.qcow2', 'sub/good.qcow2'),
    ('SHA256 (./good.qcow2) = %s', 'good.qcow2'),
    ('SHA256 (.x) = %s', '.x'),
])
def test_a_listed_name_matches_exactly_once_its_dot_slash_and_binary_marker_are_dropped(line, name):
    assert sums_digest('%s\n%s\n' % ('0' * 64 + '  other.img', line % SHA), name, 'sha256') == SHA


@pytest.mark.parametrize('name', ['.good.qcow2', 'good.qcow2'])
def test_a_dotted_name_is_not_its_undotted_twin(name):
    sums = '%s  .good.qcow2\n%s  good.qcow2\n' % ('1' * 64, '2' * 64)
    assert sums_digest(sums, name, 'sha256') == ('1' * 64 if name.startswith('.') else '2' * 64)


def test_a_list_of_one_digest_alone_is_that_digest():
    assert sums_digest('%s\n' % SHA, 'anything.img', 'sha256') == SHA


def test_hash_file(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'image')
    assert hash_file(str(path), 'sha256') == 'sha256:' + SHA


def test_expected_checksum_from_a_list_behind_a_file_url(tmp_path):
    (tmp_path / 'SHA256SUMS').write_text('%s  noble.img\n' % SHA.upper())
    checksum = parse_checksum('sha256:file://%s/SHA256SUMS' % tmp_path)
    assert expected_checksum(FakeModule(tmp_path), checksum, 'https://example.com/noble.img') == 'sha256:' + SHA
    assert expected_checksum(FakeModule(tmp_path), parse_checksum('sha256:' + SHA), 'x') == 'sha256:' + SHA
    assert expected_checksum(FakeModule(tmp_path), None, 'x') is None


def test_a_list_without_the_file_fails_and_names_both(tmp_path):
    (tmp_path / 'SHA256SUMS').write_text('%s  other.img\n%s  more.img\n' % (SHA, SHA))
    checksum = parse_checksum('sha256:file://%s/SHA256SUMS' % tmp_path)
    with pytest.raises(FetchError) as excinfo:
        expected_checksum(FakeModule(tmp_path), checksum, 'https://example.com/noble.img')
    assert 'has no sha256 digest for noble.img' in excinfo.value.msg
    assert 'SHA256SUMS' in excinfo.value.msg


def test_an_endless_list_is_cut_off(tmp_path):
    with pytest.raises(FetchError) as excinfo:
        expected_checksum(FakeModule(tmp_path), parse_checksum('sha256:file:///dev/zero'), 'https://x/a.img')
    assert 'is longer than 1.0 MiB' in excinfo.value.msg


# -- records ----------------------------------------------------------------------------------

def test_record_reasons_compare_the_url_and_the_settings():
    settings = {'format': None, 'to_raw': False}
    stored = fetch_record('https://u:secret@example.com/a.img', settings, {'checksum': 'sha256:' + SHA})
    assert stored['source']['url'] == 'https://****:****@example.com/a.img'
    assert record_reasons(stored, 'https://u:secret@example.com/a.img', settings) == []
    assert record_reasons(stored, 'https://example.com/b.img', settings) == [
        'it was made from https://****:****@example.com/a.img']
    assert record_reasons(stored, 'https://u:secret@example.com/a.img', dict(settings, to_raw=True)) == [
        'to_raw was False, now True']


# -- compression --------------------------------------------------------------------------------

@pytest.mark.parametrize('mode, header, filename, found', [
    ('auto', b'\x1f\x8b\x08\0\0\0', 'a.img', 'gz'),
    ('auto', b'BZh91AY', 'a.img', 'bz2'),
    ('auto', b'\xfd7zXZ\x00', 'a.img.xz', 'xz'),
    ('auto', b'QFI\xfb\0\0\0\3', 'a.qcow2', None),
    ('none', b'\x1f\x8b\x08\0\0\0', 'a.img.gz', None),
    ('gz', b'\x1f\x8b\x08\0\0\0', 'a.img', 'gz'),
])
def test_choose_compression(mode, header, filename, found):
    assert choose_compression(mode, header, filename, 'URL') == found


@pytest.mark.parametrize('mode, header, filename, message', [
    ('auto', b'QFI\xfb\0\0\0\3', 'a.qcow2.xz', 'ends in .xz but its data is not xz-compressed'),
    ('auto', b'\x1f\x8b\x08\0\0\0', 'a.qcow2.bz2', 'ends in .bz2 but its data is not bz2-compressed'),
    ('bz2', b'\x1f\x8b\x08\0\0\0', 'a.img', 'decompress: bz2, but the data of URL is not bz2-compressed'),
])
def test_compression_that_is_not_as_said_is_refused(mode, header, filename, message):
    with pytest.raises(FetchError) as excinfo:
        choose_compression(mode, header, filename, 'URL')
    assert message in excinfo.value.msg


def test_would_decompress(tmp_path):
    plain, packed = tmp_path / 'plain', tmp_path / 'packed'
    plain.write_bytes(b'QFI\xfb' + bytes(60))
    packed.write_bytes(gzip.compress(b'x'))
    assert not would_decompress('auto', 'https://x/a.qcow2', str(plain))
    assert would_decompress('auto', 'https://x/a.qcow2.gz', str(plain))
    assert would_decompress('auto', 'https://x/a.qcow2', str(packed))
    assert would_decompress('xz', 'https://x/a.qcow2', str(plain))
    assert not would_decompress('none', 'https://x/a.qcow2.gz', str(packed))


COMPRESS = {'gz': gzip.compress, 'bz2': bz2.compress, 'xz': lzma.compress}


def decompress_all(compression, data, piece=65536):
    decompressor = Decompressor(compression, 'URL')
    out = []
    for start in range(0, len(data), piece):
        out.extend(decompressor.feed(data[start:start + piece]))
    decompressor.finish()
    return out


@pytest.mark.parametrize('compression', ['gz', 'bz2', 'xz'])
def test_decompressor_reads_concatenated_streams_in_bounded_pieces(compression):
    first, second = os.urandom(300000), bytes(5 * MiB)
    data = COMPRESS[compression](first) + COMPRESS[compression](second)
    pieces = decompress_all(compression, data, piece=4096)
    assert b''.join(pieces) == first + second
    assert max(len(piece) for piece in pieces) <= CHUNK


def test_zeros_after_a_gzip_member_are_padding():
    assert b''.join(decompress_all('gz', gzip.compress(b'data') + bytes(512))) == b'data'


@pytest.mark.parametrize('compression', ['gz', 'bz2', 'xz'])
def test_a_truncated_stream_fails(compression):
    data = COMPRESS[compression](os.urandom(100000))
    with pytest.raises(FetchError) as excinfo:
        decompress_all(compression, data[:len(data) // 2])
    assert 'ends before the end of its stream' in excinfo.value.msg


@pytest.mark.parametrize('compression', ['gz', 'bz2', 'xz'])
def test_garbage_after_a_stream_fails(compression):
    with pytest.raises(FetchError) as excinfo:
        decompress_all(compression, COMPRESS[compression](b'data') + b'garbage!')
    assert 'Cannot decompress the %s data of URL' % compression in excinfo.value.msg


# -- the sink ------------------------------------------------------------------------------------

def sink_into(path, **kwargs):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o600)
    return fd, Sink(fd, name='URL', **kwargs)


def feed(sink, data, piece=CHUNK):
    for start in range(0, len(data), piece):
        sink.write(memoryview(data)[start:start + piece])


def test_sink_hashes_what_it_receives_and_leaves_holes_for_zeros(tmp_path):
    data = os.urandom(CHUNK) + bytes(8 * CHUNK) + os.urandom(100) + bytes(3 * CHUNK)
    fd, sink = sink_into(tmp_path / 'out')
    feed(sink, data)
    assert sink.close() == 'sha256:' + hashlib.sha256(data).hexdigest()
    os.close(fd)
    assert (tmp_path / 'out').read_bytes() == data
    assert os.stat(str(tmp_path / 'out')).st_blocks * 512 < 3 * CHUNK
    assert (sink.received, sink.written, sink.compression) == (len(data), len(data), None)


@pytest.mark.parametrize('compression', ['gz', 'bz2', 'xz'])
def test_sink_decompresses_and_hashes_the_compressed_bytes(tmp_path, compression):
    image = os.urandom(200000) + bytes(3 * MiB)
    data = COMPRESS[compression](image)
    fd, sink = sink_into(tmp_path / 'out', algorithm='sha512', decompress='auto', filename='a.img')
    feed(sink, data, piece=1)  # the choice waits for enough bytes of magic
    assert sink.close() == 'sha512:' + hashlib.sha512(data).hexdigest()
    os.close(fd)
    assert (tmp_path / 'out').read_bytes() == image
    assert (sink.received, sink.written, sink.compression) == (len(data), len(image), compression)


def test_sink_takes_data_shorter_than_any_magic(tmp_path):
    fd, sink = sink_into(tmp_path / 'out', decompress='auto')
    sink.write(b'abc')
    assert sink.close() == 'sha256:' + hashlib.sha256(b'abc').hexdigest()
    os.close(fd)
    assert (tmp_path / 'out').read_bytes() == b'abc'


def test_sink_stops_a_stream_past_its_limit(tmp_path):
    fd, sink = sink_into(tmp_path / 'out', limit=2 * CHUNK, limit_text='That is max_size.')
    sink.write(bytes(CHUNK))
    sink.write(bytes(CHUNK))
    with pytest.raises(FetchError) as excinfo:
        sink.write(b'\0')
    os.close(fd)
    assert excinfo.value.msg == ('URL sent more than 2.0 MiB (2097152 bytes); the download was stopped there and '
                                 'nothing was written. That is max_size.')


def test_sink_stops_a_compression_bomb_at_its_limit(tmp_path):
    bomb = gzip.compress(bytes(64 * MiB), compresslevel=9)
    assert len(bomb) < 100 * 1024
    fd, sink = sink_into(tmp_path / 'out', decompress='gz', limit=8 * MiB, limit_text='That is max_size.')
    with pytest.raises(FetchError) as excinfo:
        feed(sink, bomb)
    os.close(fd)
    assert 'URL decompresses to more than 8.0 MiB' in excinfo.value.msg
    assert sink.written <= 8 * MiB


def test_sink_turns_a_failed_write_into_a_message(tmp_path):
    fd = os.open(str(tmp_path / 'out'), os.O_RDONLY | os.O_CREAT, 0o600)
    sink = Sink(fd, name='URL')
    with pytest.raises(FetchError) as excinfo:
        sink.write(b'data')
    os.close(fd)
    assert excinfo.value.msg.startswith('Cannot write the download of URL: Bad file descriptor.')


# -- pump ----------------------------------------------------------------------------------------

class Reader:
    def __init__(self, data, fail_after=None):
        self.data = data
        self.offset = 0
        self.fail_after = fail_after

    def readinto(self, buffer):
        if self.fail_after is not None and self.offset >= self.fail_after:
            raise FetchError('the network went away')
        piece = self.data[self.offset:self.offset + min(len(buffer), 100000)]
        buffer[:len(piece)] = piece
        self.offset += len(piece)
        return len(piece)


def test_pump_hands_every_piece_in_order_to_another_thread():
    data = os.urandom(3 * CHUNK + 12345)
    got, threads = [], set()

    def consume(view):
        got.append(bytes(view))
        threads.add(threading.current_thread().name)

    pump(Reader(data).readinto, consume, chunk=65536, depth=2)
    assert b''.join(got) == data
    assert threads == {'image-fetch-sink'}


def test_a_failing_consumer_stops_the_reading():
    reader = Reader(os.urandom(4 * CHUNK))

    def consume(view):
        raise FetchError('disk full')

    with pytest.raises(FetchError) as excinfo:
        pump(reader.readinto, consume, chunk=1000, depth=2)
    assert excinfo.value.msg == 'disk full'
    assert reader.offset <= 4 * 1000


def test_a_failing_reader_is_raised_after_the_consumer_finished():
    got = []
    with pytest.raises(FetchError) as excinfo:
        pump(Reader(os.urandom(CHUNK), fail_after=3000).readinto, lambda view: got.append(len(view)), chunk=1000)
    assert excinfo.value.msg == 'the network went away'
    assert sum(got) == 3000


# -- requests ------------------------------------------------------------------------------------

def test_a_file_url_answers_with_its_identity_and_304_for_it(tmp_path):
    path = tmp_path / 'a.img'
    path.write_bytes(b'image')
    url = 'file://%s' % path
    with request(None, url) as first:
        assert (first.status, first.length) == (200, 5)
        buffer = bytearray(16)
        assert first.readinto(buffer) == 5 and bytes(buffer[:5]) == b'image'
        assert first.still_current()
    again = request(None, url, validators={'etag': first.etag})
    assert again.not_modified
    assert request(None, url, validators={'etag': first.etag}, force=True).status == 200
    head = request(None, url, method='HEAD')
    assert head.status == 200 and head._handle is None


def test_a_file_changed_while_it_is_read_is_noticed(tmp_path):
    path = tmp_path / 'a.img'
    path.write_bytes(b'image')
    with request(None, 'file://%s' % path) as response:
        path.write_bytes(b'other data')
        assert not response.still_current()


def test_a_character_device_has_no_validator_and_no_length():
    with request(None, 'file:///dev/zero', validators={'etag': '"x"'}) as response:
        assert (response.status, response.length, response.etag) == (200, None, None)


@pytest.mark.parametrize('name, message', [('missing', 'No such file or directory'),
                                           ('', 'neither a regular file nor a character device')])
def test_file_urls_that_cannot_be_read(tmp_path, name, message):
    with pytest.raises(FetchError) as excinfo:
        request(None, 'file://%s/%s' % (tmp_path, name))
    assert message in excinfo.value.msg


def test_http_requests_are_conditional_with_the_recorded_validators(tmp_path):
    (tmp_path / 'a.img').write_bytes(b'image')
    module = FakeModule(tmp_path)
    with http_server(tmp_path) as server:
        with request(module, server.url('a.img')) as first:
            assert (first.status, first.length) == (200, 5)
            assert first.etag and first.last_modified
        assert request(module, server.url('a.img'), validators={'etag': first.etag}).not_modified
        assert request(module, server.url('a.img'), validators={'last_modified': first.last_modified}).not_modified
        with request(module, server.url('a.img'), validators={'etag': '"old"'}) as changed:
            assert changed.status == 200
        head = request(module, server.url('a.img'), method='HEAD')
        assert head.status == 200 and head._handle is None
        assert server.requests() == {'GET /a.img': 4, 'HEAD /a.img': 1}


@pytest.mark.parametrize('path, message', [
    ('status/500/a.img', 'answered HTTP 500'),
    ('missing.img', 'answered HTTP 404'),
    ('stall/2/a.img', 'timed out (timeout: 1 s)'),
])
def test_http_failures_say_what_the_server_did(tmp_path, path, message):
    (tmp_path / 'a.img').write_bytes(b'image')
    with http_server(tmp_path) as server:
        with pytest.raises(FetchError) as excinfo:
            request(FakeModule(tmp_path), server.url(path), timeout=1)
    assert message in excinfo.value.msg
    assert 'nothing was written' in excinfo.value.msg


def test_a_stall_in_the_middle_of_the_data_stops_the_download(tmp_path):
    (tmp_path / 'a.img').write_bytes(os.urandom(256 * 1024))
    with http_server(tmp_path) as server:
        with request(FakeModule(tmp_path), server.url('stall-body/2/a.img'), timeout=1) as response:
            with pytest.raises(FetchError) as excinfo:
                pump(response.readinto, lambda view: None)
    assert 'stopped: no data for longer than the timeout' in excinfo.value.msg


@pytest.mark.parametrize('url, masked', [
    ('https://images.example.org/u.qcow2', 'https://images.example.org/u.qcow2'),
    ('https://ops:s3cret@images.example.org:8443/u.qcow2?x=1', 'https://****:****@images.example.org:8443/u.qcow2?x=1'),
    ('http://token@host/u', 'http://****@host/u'),
    ('http://ops:pw@[::1/u@v', 'http://****@[::1/u@v'),
])
def test_mask_url_hides_passwords(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize('urls, passwords', [
    (['https://ops:s3cret@images.example.org:8443/u.qcow2'], {'s3cret'}),
    (['http://ops:p%40ss%2Fw0rd@host/u', 'http://ops:other@host/SUMS'], {'p%40ss%2Fw0rd', 'p@ss/w0rd', 'other'}),
    (['http://token@host/u', 'http://ops:@host/u', 'https://host/u', 'file:///srv/u'], set()),
    ([None, 42, ['http://ops:pw@host/u'], '', 'not a url'], set()),
    (['http://ops:pw@[::1/u', 'http://ops:pw2@host]/u?a=b@c'], {'pw', 'pw2'}),
])
def test_url_passwords_finds_every_password_and_never_raises(urls, passwords):
    assert url_passwords(*urls) == passwords


@pytest.mark.parametrize('value, url', [
    ('sha256:http://ops:pw@host/SHA256SUMS', 'http://ops:pw@host/SHA256SUMS'),
    ('sha256: https://host/SUMS ', 'https://host/SUMS'),
    ('sha256:' + SHA, SHA),
    ('sha256', None),
    ('sha256:', None),
    (None, None),
])
def test_checksum_url_is_what_follows_the_algorithm(value, url):
    assert checksum_url(value) == url
