# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import errno
import os
import random
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hypervisor.images.plugins.module_utils import _sparse
from ansible_collections.hypervisor.images.plugins.module_utils._sparse import (
    COPY_FILE_RANGE,
    READWRITE,
    REFLINK,
    ReflinkError,
    SourceChangedError,
    allocated_bytes,
    copy_file,
    data_bytes,
    data_extents,
    same_content,
)

BLOCK = 4096
REAL_COPY_FILE_RANGE = os.copy_file_range
REAL_LSEEK = os.lseek


# -- helpers -------------------------------------------------------------------

def make_file(path, layout, seed=0):
    """Write ``layout``, a list of (kind, length) with kind 'hole', 'data' or 'zeros'; return the bytes."""
    rng = random.Random(seed)
    content = bytearray()
    with open(path, 'wb') as handle:
        for kind, length in layout:
            if kind == 'data':
                chunk = rng.randbytes(length).replace(b'\0', b'\1')  # never a zero byte
                handle.seek(len(content))
                handle.write(chunk)
                content += chunk
            elif kind == 'zeros':  # written zeros: allocated in the source
                handle.seek(len(content))
                handle.write(bytes(length))
                content += bytes(length)
            else:
                content += bytes(length)
        handle.truncate(len(content))
    return bytes(content)


def new_empty(path):
    open(path, 'wb').close()
    return path


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def extent_count(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        extents = data_extents(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return len(extents) if extents is not None else 1


def refuse_copy_file_range(code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return refuse


def refuse_seek_data(fd, pos, how):
    if how in (os.SEEK_DATA, os.SEEK_HOLE):
        raise OSError(errno.EINVAL, 'Invalid argument')
    return REAL_LSEEK(fd, pos, how)


def refuse_clone(code):
    def refuse(src_fd, dst_fd):
        raise OSError(code, os.strerror(code))
    return refuse


def fake_clone(src_fd, dst_fd):
    """Stands in for FICLONE where the test file system cannot clone: same bytes, same holes."""
    size = os.fstat(src_fd).st_size
    os.ftruncate(dst_fd, size)
    for offset, length in data_extents(src_fd, size):
        REAL_COPY_FILE_RANGE(src_fd, dst_fd, length, offset, offset)


FALLBACKS = {
    'copy_file_range': {},
    'copy_file_range ENOSYS': {'copy_file_range': refuse_copy_file_range(errno.ENOSYS)},
    'copy_file_range EXDEV': {'copy_file_range': refuse_copy_file_range(errno.EXDEV)},
    'SEEK_DATA unsupported': {'lseek': refuse_seek_data},
}
EXPECTED_METHOD = {'copy_file_range': COPY_FILE_RANGE, 'copy_file_range ENOSYS': READWRITE,
                   'copy_file_range EXDEV': READWRITE, 'SEEK_DATA unsupported': READWRITE}


@pytest.fixture
def force(monkeypatch):
    """Force a fallback path: force('copy_file_range EXDEV')."""
    def apply(name):
        monkeypatch.setattr(_sparse, 'clone', refuse_clone(errno.EOPNOTSUPP))
        for attribute, replacement in FALLBACKS[name].items():
            monkeypatch.setattr(_sparse.os, attribute, replacement)
    return apply


# -- properties ----------------------------------------------------------------

segment_lengths = st.one_of(
    st.integers(min_value=1, max_value=3 * BLOCK + 7),
    st.sampled_from([1, BLOCK - 1, BLOCK, BLOCK + 1, 16 * BLOCK]),
)
layouts = st.lists(
    st.tuples(st.sampled_from(['hole', 'data', 'zeros', 'hole', 'data']), segment_lengths),
    min_size=0, max_size=8,
)


@pytest.mark.parametrize('path_name', sorted(FALLBACKS))
@settings(max_examples=100, deadline=None)
@given(layout=layouts, seed=st.integers(min_value=0, max_value=2 ** 16))
def test_copy_is_identical_and_no_less_sparse(path_name, layout, seed):
    # hypothesis runs the body many times: monkeypatch by hand, not with a fixture
    saved = dict((name, getattr(_sparse.os, name)) for name in FALLBACKS[path_name])
    saved_clone = _sparse.clone
    try:
        _sparse.clone = refuse_clone(errno.EOPNOTSUPP)
        for name, replacement in FALLBACKS[path_name].items():
            setattr(_sparse.os, name, replacement)
        with tempfile.TemporaryDirectory() as directory:
            src = os.path.join(directory, 'src')
            dst = new_empty(os.path.join(directory, 'dst'))
            content = make_file(src, layout, seed)
            result = copy_file(src, dst)
            blksize = os.stat(dst).st_blksize
            assert read(dst) == content
            assert os.stat(dst).st_size == len(content) == result.apparent_size
            assert allocated_bytes(dst) <= allocated_bytes(src) + extent_count(src) * blksize
            if data_bytes(src):  # a file of holes only needs no method at all
                assert result.method == EXPECTED_METHOD[path_name]
            if path_name != 'SEEK_DATA unsupported':
                assert result.bytes_copied == data_bytes(src)
    finally:
        _sparse.clone = saved_clone
        for name, original in saved.items():
            setattr(_sparse.os, name, original)


@settings(max_examples=40, deadline=None)
@given(layout=layouts, seed=st.integers(min_value=0, max_value=2 ** 16))
def test_same_content_agrees_with_a_byte_comparison(layout, seed):
    with tempfile.TemporaryDirectory() as directory:
        a, b = os.path.join(directory, 'a'), os.path.join(directory, 'b')
        content = make_file(a, layout, seed)
        make_file(b, [('zeros' if kind == 'hole' else kind, length) for kind, length in layout], seed)
        assert read(a) == read(b)
        assert same_content(a, b) is True
        if content:
            flip = random.Random(seed).randrange(len(content))
            with open(b, 'r+b') as handle:
                handle.seek(flip)
                handle.write(bytes([content[flip] ^ 0xFF]))
            assert same_content(a, b) is False


# -- edges ---------------------------------------------------------------------

@pytest.mark.parametrize('path_name', sorted(FALLBACKS))
@pytest.mark.parametrize('layout', [
    [],
    [('data', 1)],
    [('hole', 1)],
    [('hole', 10 * BLOCK), ('data', 5)],
    [('data', BLOCK + 3), ('hole', 10 * BLOCK)],
], ids=['empty', 'one byte', 'one byte hole', 'hole then short data', 'data ending mid-block then hole'])
def test_edge_layouts(tmp_path, force, path_name, layout):
    force(path_name)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, layout)
    result = copy_file(src, dst)
    assert read(dst) == content
    assert result.apparent_size == len(content)
    if not any(kind == 'data' for kind, _length in layout):
        assert allocated_bytes(dst) == 0


def test_trailing_hole_stays_a_hole(tmp_path, force):
    force('copy_file_range')
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', BLOCK), ('hole', 64 * 1024 * 1024)])
    copy_file(src, dst)
    assert os.stat(dst).st_size == BLOCK + 64 * 1024 * 1024
    assert allocated_bytes(dst) <= 2 * BLOCK


def test_readwrite_turns_written_zeros_into_holes(tmp_path, force):
    force('copy_file_range ENOSYS')
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('zeros', 256 * BLOCK), ('data', 10), ('zeros', 100 * BLOCK)])
    assert allocated_bytes(src) >= 300 * BLOCK
    result = copy_file(src, dst)
    assert result.method == READWRITE
    assert read(dst) == read(src)
    assert allocated_bytes(dst) <= BLOCK


def test_copy_file_range_refused_midway_finishes_by_readwrite(tmp_path, monkeypatch):
    monkeypatch.setattr(_sparse, 'clone', refuse_clone(errno.EOPNOTSUPP))
    calls = []

    def flaky(src_fd, dst_fd, count, offset_src, offset_dst):
        calls.append(offset_src)
        if len(calls) > 1:
            raise OSError(errno.EINVAL, 'Invalid argument')
        return REAL_COPY_FILE_RANGE(src_fd, dst_fd, min(count, 3 * BLOCK), offset_src, offset_dst)

    monkeypatch.setattr(_sparse.os, 'copy_file_range', flaky)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('data', 10 * BLOCK), ('hole', 10 * BLOCK), ('data', 3)])
    result = copy_file(src, dst)
    assert calls == [0, 3 * BLOCK]
    assert result.method == READWRITE
    assert read(dst) == content


def test_copy_file_range_returning_zero_falls_back(tmp_path, monkeypatch):
    monkeypatch.setattr(_sparse, 'clone', refuse_clone(errno.EOPNOTSUPP))
    monkeypatch.setattr(_sparse.os, 'copy_file_range', lambda *args: 0)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('data', 5 * BLOCK)])
    assert copy_file(src, dst).method == READWRITE
    assert read(dst) == content


def test_copy_uses_large_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(_sparse, 'clone', refuse_clone(errno.EOPNOTSUPP))
    counts = []

    def spy(src_fd, dst_fd, count, offset_src, offset_dst):
        counts.append(count)
        return REAL_COPY_FILE_RANGE(src_fd, dst_fd, count, offset_src, offset_dst)

    monkeypatch.setattr(_sparse.os, 'copy_file_range', spy)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', 2 * BLOCK), ('hole', 100 * BLOCK), ('data', 3 * BLOCK)])
    copy_file(src, dst)
    assert counts == [2 * BLOCK, 3 * BLOCK]  # one call per extent, none for the hole


def test_io_errors_are_not_mistaken_for_refusals(tmp_path, force, monkeypatch):
    force('copy_file_range')
    monkeypatch.setattr(_sparse.os, 'copy_file_range', refuse_copy_file_range(errno.EIO))
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', BLOCK)])
    with pytest.raises(OSError) as excinfo:
        copy_file(src, dst)
    assert excinfo.value.errno == errno.EIO


def test_data_extents_unsupported_returns_none(tmp_path, monkeypatch):
    src = str(tmp_path / 'src')
    make_file(src, [('data', 10)])
    monkeypatch.setattr(_sparse.os, 'lseek', refuse_seek_data)
    fd = os.open(src, os.O_RDONLY)
    try:
        assert data_extents(fd, 10) is None
    finally:
        os.close(fd)
    assert data_bytes(src) == 10


def test_data_extents_of_a_sparse_file(tmp_path):
    src = str(tmp_path / 'src')
    make_file(src, [('hole', 4 * BLOCK), ('data', BLOCK), ('hole', 4 * BLOCK), ('data', 2 * BLOCK),
                    ('hole', 4 * BLOCK)])
    fd = os.open(src, os.O_RDONLY)
    try:
        assert data_extents(fd, 15 * BLOCK) == [(4 * BLOCK, BLOCK), (9 * BLOCK, 2 * BLOCK)]
    finally:
        os.close(fd)
    assert data_bytes(src) == 3 * BLOCK


# -- reflink -------------------------------------------------------------------

def test_reflink_auto_clones_where_possible(tmp_path, monkeypatch):
    monkeypatch.setattr(_sparse, 'clone', fake_clone)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('hole', BLOCK), ('data', 2 * BLOCK), ('hole', BLOCK)])
    result = copy_file(src, dst)
    assert (result.method, result.bytes_copied, result.apparent_size) == (REFLINK, 2 * BLOCK, 4 * BLOCK)
    assert read(dst) == content


def test_reflink_never_does_not_try(tmp_path, monkeypatch):
    def forbidden(src_fd, dst_fd):
        raise AssertionError('clone attempted')

    monkeypatch.setattr(_sparse, 'clone', forbidden)
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('data', 3), ('hole', BLOCK), ('zeros', BLOCK)])
    result = copy_file(src, dst, reflink='never')
    assert result.method == READWRITE  # copy_file_range may share blocks too
    assert read(dst) == content and allocated_bytes(dst) <= BLOCK


@pytest.mark.parametrize('code, words', [
    (errno.EOPNOTSUPP, 'cannot clone files'),
    (errno.EXDEV, 'different file systems'),
    (errno.EINVAL, 'refused the clone'),
])
def test_reflink_always_fails_clearly(tmp_path, monkeypatch, code, words):
    monkeypatch.setattr(_sparse, 'clone', refuse_clone(code))
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', 3)])
    with pytest.raises(ReflinkError) as excinfo:
        copy_file(src, dst, reflink='always')
    assert 'reflink=always' in excinfo.value.msg and words in excinfo.value.msg
    assert os.stat(dst).st_size == 0


def test_reflink_always_on_this_file_system(tmp_path):
    """The real ioctl: the test directory's file system either clones or says it cannot."""
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('data', 3)])
    try:
        result = copy_file(src, dst, reflink='always')
    except ReflinkError as exc:
        assert 'cannot clone files' in exc.msg
    else:
        assert result.method == REFLINK and read(dst) == content


def test_reflink_auto_falls_back_on_this_file_system(tmp_path):
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    content = make_file(src, [('hole', BLOCK), ('data', 3)])
    assert copy_file(src, dst).method in (REFLINK, COPY_FILE_RANGE)
    assert read(dst) == content


def test_unknown_reflink_mode(tmp_path):
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', 3)])
    with pytest.raises(ValueError):
        copy_file(src, dst, reflink='sometimes')


def test_clone_errors_other_than_refusals_are_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(_sparse, 'clone', refuse_clone(errno.EIO))
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', 3)])
    with pytest.raises(OSError):
        copy_file(src, dst)


# -- a changing source ---------------------------------------------------------

def test_source_modified_during_copy_fails(tmp_path, force, monkeypatch):
    force('copy_file_range')
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', BLOCK)])

    def copy_then_append(src_fd, dst_fd, count, offset_src, offset_dst):
        copied = REAL_COPY_FILE_RANGE(src_fd, dst_fd, count, offset_src, offset_dst)
        with open(src, 'ab') as handle:
            handle.write(b'guest write')
        return copied

    monkeypatch.setattr(_sparse.os, 'copy_file_range', copy_then_append)
    with pytest.raises(SourceChangedError, match='changed while it was being copied'):
        copy_file(src, dst)


def test_source_shrinking_during_readwrite_fails(tmp_path, force, monkeypatch):
    force('copy_file_range ENOSYS')
    src, dst = str(tmp_path / 'src'), new_empty(str(tmp_path / 'dst'))
    make_file(src, [('data', 4 * BLOCK)])
    real_pread = os.pread

    def truncating_pread(fd, count, offset):
        os.truncate(src, BLOCK)
        return real_pread(fd, count, offset)

    monkeypatch.setattr(_sparse.os, 'pread', truncating_pread)
    with pytest.raises(SourceChangedError, match='the source ended at 4096 bytes'):
        copy_file(src, dst)


def test_copy_reports_the_identity_of_what_it_copied(tmp_path):
    src, dst = str(tmp_path / 'src'), str(tmp_path / 'dst')
    make_file(src, [('data', 10)])
    open(dst, 'wb').close()
    st_src = os.stat(src)
    assert copy_file(src, dst).source == {'size': st_src.st_size, 'mtime_ns': st_src.st_mtime_ns,
                                          'inode': st_src.st_ino, 'device': st_src.st_dev}


def test_allocated_bytes_of_a_missing_file(tmp_path):
    assert allocated_bytes(str(tmp_path / 'nothing')) == 0


def test_same_content_of_files_of_different_lengths(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    make_file(a, [('hole', 10)])
    make_file(b, [('hole', 11)])
    assert same_content(a, b) is False


def test_same_content_without_seek_data(tmp_path, monkeypatch):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    make_file(a, [('hole', BLOCK), ('data', 10)], seed=1)
    make_file(b, [('zeros', BLOCK), ('data', 10)], seed=1)
    monkeypatch.setattr(_sparse.os, 'lseek', refuse_seek_data)
    assert same_content(a, b) is True
