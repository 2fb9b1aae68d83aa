# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fetching an image: the request, the one-pass stream, checksums and checksum lists.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

* :func:`request` opens an ``http``, ``https`` (through Ansible's own
  ``fetch_url``, so proxies, certificates and credentials work as in
  ``ansible.builtin.get_url``) or ``file`` URL. With the validators of an
  earlier download (ETag, Last-Modified) it asks conditionally; a ``file``
  URL's validator is made from the file's identity, so a re-run reads no data.
* :class:`Sink` takes the bytes as they come: it hashes them (the checksum is
  of the bytes downloaded, as get_url's), decompresses gzip, bzip2 or xz
  (standard library only), leaves holes for blocks of zeros, and stops at a
  bound, so that neither ``file:///dev/zero`` nor a compression bomb runs on.
  :func:`pump` reads in one thread and feeds the sink in another, so the
  network, the hash and the disk work at once and the data is read once.
* :func:`parse_checksum` and :func:`sums_digest` read ``ALGO:HEX`` and
  ``ALGO:URL`` of a ``SHA256SUMS``-style list as get_url does.
"""

from __future__ import annotations

import bz2
import email.utils
import hashlib
import http.client
import lzma
import os
import queue
import re
import socket
import stat
import threading
import zlib
from urllib.parse import unquote, urlsplit, urlunsplit

from ansible.module_utils.urls import fetch_url

from ansible_collections.hypervisor.images.plugins.module_utils._identity import RECORD_VERSION, compare_record
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes

MiB = 1024 * 1024
#: URL schemes image_fetch takes
SCHEMES = ('http', 'https', 'file')
#: compressions decompress takes, each from the standard library
COMPRESSIONS = ('gz', 'bz2', 'xz')
DECOMPRESS_CHOICES = ('auto', 'none') + COMPRESSIONS
#: the magic each compression's data starts with
_MAGIC = (('gz', b'\x1f\x8b'), ('bz2', b'BZh'), ('xz', b'\xfd7zXZ\x00'))
MAGIC_BYTES = 6
_SUFFIXES = {'.gz': 'gz', '.bz2': 'bz2', '.xz': 'xz'}
#: bytes per read and per decompressed piece
CHUNK = 1 * MiB
#: the most a checksum list may hold
SUMS_LIMIT = 1 * MiB
DEFAULT_ALGORITHM = 'sha256'
_ZEROS = bytes(CHUNK)


class FetchError(TaskError):
    """A URL cannot be fetched, or what it gave cannot be taken."""


# -- URLs ------------------------------------------------------------------------

def mask_url(url):
    """``url`` with its user name and password masked as ``****``, for messages and records.

    ansible.module_utils.urls has its own only since ansible-core 2.17.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL (an unbalanced [ in the host): mask whatever stands before an @ of the host part
        return re.sub(r'^([^/?#]*//)[^/?#]*@', r'\1****@', url)
    if '@' not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit('@', 1)
    masked = '****:****' if ':' in userinfo else '****'
    return urlunsplit((parts.scheme, '%s@%s' % (masked, host), parts.path, parts.query, parts.fragment))


def url_passwords(*urls):
    """The passwords the URLs among ``urls`` carry, as written and URL-decoded, for ``no_log_values``.

    Anything that is not a string, or not a URL, gives none; nothing raises.
    """
    found = set()
    for url in urls:
        if not isinstance(url, str):
            continue
        try:
            password = urlsplit(url).password
        except ValueError:  # an unbalanced [ in the host: read the user information by hand
            netloc = re.split(r'[/?#]', url.partition('//')[2], maxsplit=1)[0]
            password = netloc.rpartition('@')[0].partition(':')[2]
        if password:
            found.update(value for value in (password, unquote(password)) if value)
    return found


def checksum_url(value):
    """What follows the algorithm in a ``checksum`` option value: the URL of ``ALGO:URL`` (or a digest), or None."""
    if not isinstance(value, str) or ':' not in value:
        return None
    return value.partition(':')[2].strip() or None


def url_problem(url):
    """Why ``url`` cannot be fetched, or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return 'url: %s is not a URL (%s)' % (mask_url(url), exc)
    if parts.scheme not in SCHEMES:
        return ('url: %s has the scheme %r; image_fetch fetches %s URLs'
                % (mask_url(url), parts.scheme, ', '.join(SCHEMES)))
    if parts.scheme == 'file':
        if parts.netloc not in ('', 'localhost'):
            return ('url: %s names a host; file URLs name a file on the managed host (file:///path)'
                    % mask_url(url))
        if not parts.path.startswith('/'):
            return 'url: %s has no absolute path (file:///path)' % url
    elif not parts.netloc:
        return 'url: %s names no host' % mask_url(url)
    return None


def file_url_path(url):
    """The path a ``file`` URL names, or None for other URLs."""
    parts = urlsplit(url)
    return unquote(parts.path) if parts.scheme == 'file' else None


def url_filename(url):
    """The file name a URL ends in (what a checksum list names it by)."""
    return os.path.basename(unquote(urlsplit(url).path))


# -- checksums ------------------------------------------------------------------

class Checksum:
    """A parsed ``checksum`` option: an algorithm and either a digest or the URL of a list of digests."""

    def __init__(self, algorithm, digest=None, url=None):
        self.algorithm = algorithm
        self.digest = digest
        self.url = url

    def __str__(self):
        return '%s:%s' % (self.algorithm, self.digest)


def new_hash(algorithm):
    """A hashlib object for ``algorithm``; a FetchError for a name hashlib does not know here."""
    if algorithm.startswith('shake'):
        raise FetchError('checksum: %s digests have no fixed length; use sha256, sha512 or another hashlib '
                         'algorithm.' % algorithm)
    try:
        return hashlib.new(algorithm)
    except ValueError:
        known = sorted(name for name in hashlib.algorithms_available if not name.startswith('shake'))
        raise FetchError('checksum: %r is not a hash algorithm Python\'s hashlib offers on this host; use one of %s.'
                         % (algorithm, ', '.join(known)))


def normalize_digest(algorithm, text, where='checksum'):
    """``text`` as the lower-case hex digest of ``algorithm``, as get_url reads it (non-word characters dropped)."""
    digest = re.sub(r'\W+', '', text).lower()
    length = new_hash(algorithm).digest_size * 2
    if len(digest) != length or not re.match(r'^[0-9a-f]+$', digest):
        raise FetchError('%s: %r is not a %s digest (%d hexadecimal digits).' % (where, text, algorithm, length))
    return digest


def parse_checksum(value):
    """A :class:`Checksum` from ``ALGO:HEX`` or ``ALGO:URL``."""
    algorithm, sep, rest = value.partition(':')
    algorithm = algorithm.strip().lower()
    if not sep or not algorithm or not rest.strip():
        raise FetchError('checksum: %r must be ALGORITHM:DIGEST (sha256:9f86d0...) or ALGORITHM:URL of a list of '
                         'digests (sha256:https://example.com/SHA256SUMS).' % value)
    new_hash(algorithm)
    if re.match(r'^(%s):' % '|'.join(SCHEMES), rest.strip(), re.IGNORECASE):
        problem = url_problem(rest.strip())
        if problem:
            raise FetchError('checksum: the list of digests %s' % problem[len('url: '):])
        return Checksum(algorithm, url=rest.strip())
    return Checksum(algorithm, digest=normalize_digest(algorithm, rest))


_BSD_LINE = re.compile(r'^(?P<algorithm>[\w-]+) ?\((?P<path>.+)\) ?= (?P<digest>[\w.]+)$')
_GNU_LINE = re.compile(r'^(?P<digest>[\w.]+)\s+(?P<path>.+)$')


def _listed_name(path, binary_marker=True):
    """The file name a checksum line means: without sha256sum's binary marker ``*`` and one leading ``./``.

    Nothing else is dropped: ``../NAME``, ``.NAME`` and ``sub/NAME`` are other files than ``NAME``.
    """
    if binary_marker and path.startswith('*'):
        path = path[1:]
    if path.startswith('./'):
        path = path[2:]
    return path


def _same_algorithm(name, algorithm):
    def canonical(text):
        return re.sub(r'[-_]', '', text).lower()
    return canonical(name) == canonical(algorithm)


def sums_digest(text, filename, algorithm):
    """The digest that a ``SHA256SUMS``-style list gives for ``filename``, or None.

    Reads GNU lines (``DIGEST  NAME``, ``DIGEST *NAME``), BSD lines
    (``SHA256 (NAME) = DIGEST``; lines of another algorithm are skipped) and a
    list of one digest alone, as get_url does; the first match wins. A listed
    name matches only when it is ``filename`` exactly, once a leading ``./``
    (and in GNU lines the binary marker ``*``) is dropped.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith('#')]
    if len(lines) == 1 and len(lines[0].split()) == 1:
        return lines[0]
    for line in lines:
        match = _BSD_LINE.match(line)
        if match:
            if (_listed_name(match.group('path'), binary_marker=False) == filename
                    and _same_algorithm(match.group('algorithm'), algorithm)):
                return match.group('digest')
            continue
        match = _GNU_LINE.match(line)
        if match and _listed_name(match.group('path')) == filename:
            return match.group('digest')
    return None


def hash_file(path, algorithm):
    """``ALGO:HEX`` of the file at ``path``, read once."""
    hasher = new_hash(algorithm)
    with open(path, 'rb', buffering=0) as handle:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            hasher.update(view[:count])
    return '%s:%s' % (algorithm, hasher.hexdigest())


# -- requests ------------------------------------------------------------------------

def file_etag(st):
    """A validator for a local file, as web servers make theirs: its device, inode, size and mtime."""
    return '"%x-%x-%x-%x"' % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Response:
    """What a request gave: the status, the length and validators, and (for a GET that answered 200) the data."""

    def __init__(self, url, status, length=None, etag=None, last_modified=None, handle=None, current=None):
        self.url = url
        self.status = status
        self.length = length
        self.etag = etag
        self.last_modified = last_modified
        self._handle = handle
        self._current = current

    @property
    def not_modified(self):
        return self.status == 304

    def readinto(self, buffer):
        try:
            return self._handle.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            # socket.timeout, not TimeoutError: they are one class only from Python 3.10 on
            reason = 'no data for longer than the timeout' if isinstance(exc, socket.timeout) else exc
            raise FetchError('The download of %s stopped: %s. Nothing was written; check the server and the network, '
                             'or raise timeout, and run the task again.' % (mask_url(self.url), reason))

    def still_current(self):
        """Whether the source is still what it was when it was opened (a file's validator is checked again)."""
        return self._current is None or self._current() == self.etag

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def _length(value):
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def request(module, url, method='GET', validators=None, headers=None, timeout=10, force=False):
    """Open ``url``; a :class:`Response` that answered 200, or 304 to a conditional request.

    ``validators`` (a record's source: ``etag`` and ``last_modified``) make
    the request conditional; ``force`` sends ``Cache-Control: no-cache``.
    Any other answer raises a FetchError that says what the server said.
    """
    validators = {} if force or validators is None else validators
    path = file_url_path(url)
    if path is not None:
        return _open_file(url, path, method, validators.get('etag'))
    headers = dict(headers or {})
    if validators.get('etag'):
        headers['If-None-Match'] = validators['etag']
    if validators.get('last_modified'):
        headers['If-Modified-Since'] = validators['last_modified']
    rsp, info = fetch_url(module, url, method=method, headers=headers, timeout=timeout, force=force, decompress=False)
    status = info.get('status', -1)
    kwargs = dict(etag=info.get('etag'), last_modified=info.get('last-modified'))
    if status == 200:
        if method == 'HEAD':
            rsp.close()
            rsp = None
        return Response(url, 200, length=_length(info.get('content-length')), handle=rsp, **kwargs)
    if rsp is not None:
        rsp.close()
    if status == 304 and validators:
        return Response(url, 304, **kwargs)
    if method == 'HEAD' and status in (405, 501):
        # A server that does not take HEAD cannot tell check mode whether the image changed.
        return Response(url, status, **kwargs)
    if status == -1:
        raise FetchError('Cannot fetch %s: %s (timeout: %s s). Check the URL, the network and the server (or raise '
                         'timeout); nothing was written.' % (mask_url(url), info.get('msg'), timeout))
    raise FetchError('%s answered HTTP %s (%s). Check the URL and the server; nothing was written.'
                     % (mask_url(url), status, info.get('msg')))


def _open_file(url, path, method, etag):
    try:
        mode = os.stat(path).st_mode  # before opening: opening a FIFO would wait for a writer
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
            raise FetchError('Cannot fetch %s: %s is neither a regular file nor a character device.' % (url, path),
                             path)
        handle = open(path, 'rb', buffering=0)
    except OSError as exc:
        raise FetchError('Cannot fetch %s: %s cannot be read: %s. Run the task as a user that may read it (become), '
                         'or fix its owner and mode; nothing was written.' % (url, path, exc.strerror), path)
    st = os.fstat(handle.fileno())
    if not stat.S_ISREG(st.st_mode):
        # A device (/dev/zero, a tape) has no identity to validate and no length: always read, within the bound.
        if method == 'HEAD':
            handle.close()
            handle = None
        return Response(url, 200, handle=handle)
    tag = file_etag(st)
    modified = email.utils.formatdate(st.st_mtime, usegmt=True)
    if etag == tag or method == 'HEAD':
        handle.close()
        handle = None
    if etag == tag:
        return Response(url, 304, etag=tag, last_modified=modified)
    return Response(url, 200, length=st.st_size, etag=tag, last_modified=modified, handle=handle,
                    current=lambda: _current_etag(path))


def _current_etag(path):
    try:
        return file_etag(os.stat(path))
    except OSError:
        return None


def read_limited(response, limit, what):
    """All of a response's data, refused when it is longer than ``limit`` bytes."""
    data = bytearray()
    buffer = bytearray(64 * 1024)
    while True:
        count = response.readinto(buffer)
        if not count:
            return bytes(data)
        data += buffer[:count]
        if len(data) > limit:
            raise FetchError('%s %s is longer than %s; that is not a list of checksums.'
                             % (what, mask_url(response.url), human_and_bytes(limit)))


def expected_checksum(module, checksum, image_url, timeout=10, headers=None):
    """The ``ALGO:HEX`` a download of ``image_url`` must have, or None; a list of digests costs one request."""
    if checksum is None:
        return None
    if checksum.url is None:
        return str(checksum)
    with request(module, checksum.url, headers=headers, timeout=timeout) as response:
        text = read_limited(response, SUMS_LIMIT, 'The list of checksums').decode('utf-8', 'replace')
    name = url_filename(image_url)
    found = sums_digest(text, name, checksum.algorithm)
    if found is None:
        raise FetchError('The list of checksums %s has no %s digest for %s (the file name %s ends in). Check that the '
                         'list belongs to this image, or give the digest itself (%s:HEX).'
                         % (mask_url(checksum.url), checksum.algorithm, name, mask_url(image_url),
                            checksum.algorithm))
    where = 'the list of checksums %s' % mask_url(checksum.url)
    return '%s:%s' % (checksum.algorithm, normalize_digest(checksum.algorithm, found, where))


# -- records ---------------------------------------------------------------------------

def fetch_record(url, settings, source):
    """The record of an image fetched from ``url`` with ``settings``; ``source`` says what came (see :mod:`._identity`)."""
    return {'version': RECORD_VERSION, 'source': dict(source, url=mask_url(url)), 'settings': settings}


def record_reasons(stored, url, settings):
    """Why a stored record is not of ``url`` fetched with ``settings`` (an empty list when it is)."""
    old = {'source': {'path': (stored.get('source') or {}).get('url')}, 'settings': stored.get('settings') or {}}
    return compare_record(old, {'source': {'path': mask_url(url)}, 'settings': settings})


# -- compression ----------------------------------------------------------------------

def compression_from_magic(header):
    for name, magic in _MAGIC:
        if bytes(header[:len(magic)]) == magic:
            return name
    return None


def compression_from_name(filename):
    return _SUFFIXES.get(os.path.splitext(filename)[1].lower())


def choose_compression(mode, header, filename, name):
    """The compression to undo for data starting with ``header`` (None for none); refuses data that is not as said."""
    found = compression_from_magic(header)
    if mode == 'none':
        return None
    if mode == 'auto':
        hinted = compression_from_name(filename)
        if hinted and found != hinted:
            raise FetchError('%s ends in .%s but its data is not %s-compressed (it starts with %r). Set decompress: '
                             'none to take the data as it is, or check the URL.'
                             % (name, hinted, hinted, bytes(header[:8])))
        return found
    if found != mode:
        raise FetchError('decompress: %s, but the data of %s is not %s-compressed (it starts with %r). Set decompress: '
                         'auto or none.' % (mode, name, mode, bytes(header[:8])))
    return mode


def would_decompress(mode, url, path):
    """Whether a download of ``url`` that held what the file at ``path`` holds would be decompressed."""
    if mode == 'none':
        return False
    if mode in COMPRESSIONS or compression_from_name(url_filename(url)):
        return True
    with open(path, 'rb') as handle:
        return compression_from_magic(handle.read(MAGIC_BYTES)) is not None


class Decompressor:
    """Undoes gzip, bzip2 or xz a piece at a time, never more than CHUNK bytes of output per piece.

    Concatenated streams (``pigz``, ``pbzip2``, ``xz -T``) are read one after
    the other; zeros after a gzip member are padding, as gzip takes them.
    """

    def __init__(self, compression, name):
        self.compression = compression
        self.name = name
        self._obj = self._new()

    def _new(self):
        if self.compression == 'gz':
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.compression == 'bz2':
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    def feed(self, data):
        """Yield the output of ``data`` in pieces of at most CHUNK bytes."""
        try:
            yield from self._feed(data)
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
            raise self._broken(exc)

    def _feed(self, data):
        while True:
            if self._obj is None:
                if self.compression == 'gz':
                    data = bytes(data).lstrip(b'\0')
                if not data:
                    return
                self._obj = self._new()
            obj = self._obj
            out = obj.decompress(data, CHUNK)
            data = obj.unconsumed_tail if self.compression == 'gz' else b''
            if out:
                yield out
            if obj.eof:
                data = obj.unused_data
                self._obj = None
                continue
            if self.compression == 'gz':
                more = bool(data) or len(out) == CHUNK
            else:
                more = not obj.needs_input
            if not more:
                return

    def finish(self):
        if self._obj is not None:
            raise self._broken('the compressed data ends before the end of its stream (a truncated download?)')

    def _broken(self, reason):
        return FetchError('Cannot decompress the %s data of %s: %s. Nothing was written; check the URL and the '
                          'decompress option.' % (self.compression, self.name, reason))


# -- the stream ------------------------------------------------------------------------

def _is_zero(data):
    count = len(data)
    return data[0] == 0 and data[-1] == 0 and bytes(data) == (_ZEROS if count == CHUNK else bytes(count))


class Sink:
    """Where the bytes of a download go, in one pass.

    Every byte received is hashed with ``algorithm``; with ``decompress``
    (``auto``, ``none`` or a compression) the data is decompressed on the
    way, the choice made from its first bytes; the output goes to ``fd`` with
    holes for whole blocks of zeros. More than ``limit`` bytes received or
    written raises a FetchError naming ``limit_text``. ``name`` (the masked
    URL) and ``filename`` (what the URL ends in) are for messages and the
    ``auto`` choice.
    """

    def __init__(self, fd, algorithm=DEFAULT_ALGORITHM, decompress='none', name='', filename='', limit=None,
                 limit_text=''):
        self.fd = fd
        self.algorithm = algorithm
        self.hasher = new_hash(algorithm)
        self.mode = decompress
        self.name = name
        self.filename = filename
        self.limit = limit
        self.limit_text = limit_text
        self.compression = None
        self.received = 0
        self.written = 0
        self._head = None if decompress == 'none' else b''
        self._decompressor = None

    def write(self, data):
        self.hasher.update(data)
        self.received += len(data)
        if self.limit is not None and self.received > self.limit:
            raise self._too_much('sent more than')
        if self._head is not None:
            self._head += bytes(data)
            if len(self._head) < MAGIC_BYTES:
                return
            data = self._decide()
        self._feed(data)

    def _decide(self):
        head, self._head = self._head, None
        self.compression = choose_compression(self.mode, head, self.filename, self.name)
        if self.compression:
            self._decompressor = Decompressor(self.compression, self.name)
        return head

    def _feed(self, data):
        if self._decompressor is None:
            self._emit(data)
            return
        for piece in self._decompressor.feed(data):
            self._emit(piece)

    def _emit(self, data):
        count = len(data)
        if not count:
            return
        if self.limit is not None and self.written + count > self.limit:
            raise self._too_much('decompresses to more than')
        try:
            if _is_zero(data):
                os.lseek(self.fd, count, os.SEEK_CUR)
            else:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
        except OSError as exc:
            raise FetchError('Cannot write the download of %s: %s. Nothing was written; free some space or fix the '
                             'directory, and run the task again.' % (self.name, exc.strerror))
        self.written += count

    def _too_much(self, verb):
        return FetchError('%s %s %s; the download was stopped there and nothing was written. %s'
                          % (self.name, verb, human_and_bytes(self.limit), self.limit_text))

    def close(self):
        """Finish the stream; return the checksum of what was received as ``ALGO:HEX``."""
        if self._head is not None:
            self._feed(self._decide())
        if self._decompressor is not None:
            self._decompressor.finish()
        os.ftruncate(self.fd, self.written)
        return '%s:%s' % (self.algorithm, self.hasher.hexdigest())


def pump(readinto, consume, chunk=CHUNK, depth=4):
    """Read with ``readinto(buffer)`` until it returns 0, handing each piece to ``consume`` in a second thread.

    Reading (the network) and consuming (hash, decompression, disk) overlap;
    both release the GIL for their work. ``depth`` buffers of ``chunk``
    bytes circulate between the two. The first exception of either side
    stops both and is raised.
    """
    free, full = queue.Queue(), queue.Queue()
    for dummy in range(depth):
        free.put(bytearray(chunk))
    failures = []

    def worker():
        while True:
            item = full.get()
            if item is None:
                return
            buffer, count = item
            if not failures:
                try:
                    consume(memoryview(buffer)[:count])
                except BaseException as exc:  # handed to the reading thread
                    failures.append(exc)
            free.put(buffer)

    thread = threading.Thread(target=worker, name='image-fetch-sink')
    thread.daemon = True
    thread.start()
    try:
        while not failures:
            buffer = free.get()
            if failures:
                break
            count = readinto(buffer)
            if not count:
                break
            full.put((buffer, count))
    finally:
        full.put(None)
        thread.join()
    if failures:
        raise failures[0]
