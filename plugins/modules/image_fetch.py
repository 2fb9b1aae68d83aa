#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_fetch
short_description: Download a disk image, check it, and put it in place only when it is safe
version_added: 0.1.0
description:
  - Downloads O(url) into O(dest), as Nova's C(fetch_image) and C(fetch_to_raw) do for the base-image cache, but
    checks what it got before anything appears at O(dest). The data is hashed while it streams (one pass, no second
    read), decompressed on the way if it is compressed, inspected, optionally converted to raw (O(to_raw)), and renamed
    into place. Any failure leaves O(dest) as it was, and no temporary file behind.
  - The image is inspected before it is taken. Its format is read from the header magic by the module itself, must be
    in O(allowed_formats), must agree with the claimed O(format) and must be read as that format by a resource-limited
    C(qemu-img info). An image that names a backing file or an external data file (which a hostile image uses to make
    the host read its files into a guest), or a qcow2 image claimed to be raw, is refused.
  - The download is bounded. A response whose C(Content-Length) does not fit into the free space beside O(dest) (or is
    more than O(max_size)) is refused before it is read; a stream without a length (C(file:///dev/zero), a chunked
    response) or a compressed one that grows without end is stopped at O(max_size), or without it at the free space of
    the file system holding O(dest).
  - Re-runs are cheap. O(dest) carries a record of what it was fetched from (the URL, the checksum, the server's
    C(ETag) and C(Last-Modified), the settings). With O(checksum) matching the record, nothing is requested at all;
    without one, a conditional request (C(If-None-Match), C(If-Modified-Since)) asks the server whether the image
    changed. O(force) always fetches.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.qemu_img
  - ansible.builtin.url
  - ansible.builtin.files
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - Check mode downloads nothing. It fetches a list of checksums given as O(checksum) (it decides whether the
        image changed), asks a conditional C(HEAD) where a real run would make a conditional request, and hashes an
        existing O(dest) without a record once, exactly as a real run does before it adopts it; it reports whether
        O(dest) would be fetched and why (RV(reason)).
  diff_mode:
    support: full
    details:
      - The diff shows O(dest)'s state, format, virtual size, URL and checksum before and after.
options:
  url:
    description:
      - The URL of the image, V(http://), V(https://) or V(file://) (a file on the managed host, for example an NFS
        mount; a character device such as V(file:///dev/zero) is read too, within O(max_size)).
      - Credentials in the URL are masked in what the module returns and records. Its password (and that of a URL in
        O(checksum)) is a C(no_log) value; it is masked wherever the output would show it, in the task's invocation,
        messages and logs too.
    type: str
    required: true
  dest:
    description:
      - Path of the image file to write. Its directory must exist.
      - It is written under a temporary name in the same directory, synced, and renamed into place, so it appears
        complete or not at all. A directory or a block device is refused.
    type: path
    required: true
  checksum:
    description:
      - The checksum the downloaded bytes must have, as C(ALGORITHM:DIGEST) (for example
        V(sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08)), with any algorithm Python's
        C(hashlib) offers on the managed host (V(sha256), V(sha512), V(sha1), V(md5), V(blake2b), ...).
      - Or C(ALGORITHM:URL) of a list of checksums in the format of C(sha256sum) (lines C(DIGEST  NAME)) or of
        C(sha256sum --tag) (BSD lines of the algorithm, the file name in parentheses, C(=) and the digest), or holding a
        single digest, as C(ansible.builtin.get_url) takes it. The digest of the file
        name O(url) ends in is used; the list is fetched on every run (one small request) and may be at most 1 MiB.
      - The checksum is of the bytes downloaded, before they are decompressed, as get_url computes it.
      - A download whose checksum differs is refused. Without O(checksum) the SHA-256 of the download is computed,
        recorded and returned.
    type: str
  format:
    description:
      - The format the image is claimed to be in (after decompression). An image whose header says another format is
        refused; so is a qcow2 image claimed to be V(raw).
      - Without it, the format read from the header magic is taken (it must still be in O(allowed_formats)).
    type: str
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
  allowed_formats:
    description:
      - The formats an image may have to be taken. Images of any other format are refused.
    type: list
    elements: str
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
    default: [raw, qcow2]
  to_raw:
    description:
      - Convert the image to raw once it has been checked, as Nova does with C(force_raw_images). The conversion is
        measured first (C(qemu-img measure)) and refused when it does not fit; it writes with the cache mode
        O(cache_mode). A raw image is taken as it is.
    type: bool
    default: false
  cache_mode:
    description:
      - Cache mode of the O(to_raw) conversion (C(qemu-img convert -t)). V(auto) probes the directory for O_DIRECT as
        Nova does and uses V(none) where it works, else V(writeback).
    type: str
    choices: [auto, none, writeback, unsafe]
    default: auto
  decompress:
    description:
      - Undo a compression of the download, with Python's own C(gzip), C(bz2) and C(lzma) code (no tools needed).
      - V(auto) decompresses data that starts with gzip, bzip2 or xz magic; a URL ending in C(.gz), C(.bz2) or C(.xz)
        whose data is not compressed that way is refused. V(gz), V(bz2) and V(xz) require that compression. V(none)
        takes the data as it is.
      - Concatenated streams (from C(pigz), C(pbzip2), C(xz -T)) are read in full.
    type: str
    choices: [auto, none, gz, bz2, xz]
    default: auto
  max_size:
    description:
      - The most the download, and the image once decompressed, may be (a size string such as V(20G), or bytes). A
        response whose C(Content-Length) says more is refused before it is read; a stream that goes on past it is
        stopped there.
      - Without it, the bound is the free space of the file system holding O(dest) when the download starts (with
        O(check_free_space=false), that file system's size). Set it when a sparse raw image is bigger than the free
        space it really needs.
    type: str
  timeout:
    description:
      - Seconds to wait for the server to accept the connection and, during the download, for each piece of data.
        It is not a bound on the whole download; a server that stalls longer fails the task.
    type: int
    default: 10
  headers:
    description:
      - Extra HTTP request headers, as a dictionary.
      - Use O(url_username) and O(url_password) for credentials; their password is never logged.
    type: dict
    default: {}
  check_free_space:
    description:
      - Refuse a download whose C(Content-Length), or a O(to_raw) conversion whose measured size, is more than the
        free space of the file system holding O(dest).
      - Set to V(false) on file systems whose free space says little about what a write needs (compressing or
        deduplicating ones). A write that runs out of space still leaves O(dest) as it was.
    type: bool
    default: true
  force:
    description:
      - Always fetch, even when O(dest) already holds the image, and replace a O(dest) that this module did not
        fetch. Sends C(Cache-Control) V(no-cache).
    type: bool
    default: false
notes:
  - B(The record.) O(dest) carries a record of what it was fetched from (the URL with credentials masked, the
    expected and computed checksums, C(ETag), C(Last-Modified), the format, and the settings O(format),
    O(allowed_formats), O(to_raw) and O(decompress)), in the extended attribute C(user.hypervisor_images.source), or a
    hidden C(.NAME.source.json) file beside O(dest) where the file system refuses user extended attributes. A changed
    URL or setting means a new fetch. A O(dest) modified since it was written no longer counts as fetched.
  - B(Deciding without downloading.) With O(checksum), a record holding the same checksum means no request at all.
    Without one, a conditional C(GET) is sent; the server answers C(304 Not Modified), or sends the image, which then
    replaces O(dest) unless it has the recorded checksum (a server without C(ETag) and C(Last-Modified) sends it
    whole every time). A V(file://) URL's validator is made from the file's device, inode, size and modification
    time, so a re-run reads nothing.
  - B(A destination this module did not fetch) (no record) is taken as it is only when O(checksum) is given, the
    download would not be decompressed or converted, its checksum matches and it passes the inspection; the record is
    then written and nothing else changes. Otherwise the task fails unless O(force=true).
  - B(Many hosts, one server.) Tasks fetching the same O(dest) on one host wait for each other on a lock file beside
    it. A fleet pulling one image from one server pulls it once per host; limit how many hosts do so at once with the
    task keyword C(throttle) (for example V(5)) or the play keyword C(serial).
  - Temporary files of a run that was killed are removed by the next run.
seealso:
  - name: ansible.builtin.get_url
    description: Downloads any file; image_fetch adds the inspection, the formats, decompression and conversion.
    link: https://docs.ansible.com/ansible/latest/collections/ansible/builtin/get_url_module.html
  - module: hypervisor.images.image_convert
  - module: hypervisor.images.qemu_image_info
'''

EXAMPLES = r'''
- name: Fetch a cloud image into the base-image cache, checked against the distribution's SHA256SUMS
  hypervisor.images.image_fetch:
    url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
    checksum: sha256:https://cloud-images.ubuntu.com/noble/current/SHA256SUMS
    format: qcow2
    dest: /var/lib/nova/instances/_base/noble.qcow2
    owner: nova
    group: nova
    mode: "0644"

- name: Fetch the same image as raw, as Nova does with force_raw_images, at most 10 hosts at a time
  hypervisor.images.image_fetch:
    url: https://mirror.example.com/images/noble.qcow2.xz
    checksum: sha512:https://mirror.example.com/images/SHA512SUMS
    dest: /var/lib/nova/instances/_base/noble.raw
    to_raw: true
    max_size: 20G
  throttle: 10

- name: Take an image from an NFS mount; re-runs only look at the file's identity
  hypervisor.images.image_fetch:
    url: file:///srv/images/cirros-0.6.2.img
    dest: /var/lib/libvirt/images/cirros.qcow2
  register: fetched

- name: Say how fast it went
  ansible.builtin.debug:
    msg: "{{ fetched.downloaded | default(0) | human_readable }} at {{ fetched.bytes_per_second | default(0) | human_readable }}/s"
'''

RETURN = r'''
dest:
  description: Absolute path of the image.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base/noble.qcow2
url:
  description: The URL, with credentials masked.
  returned: always
  type: str
  sample: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
format:
  description: Format of O(dest) (in check mode, when it would be fetched, the claimed format, V(raw) with O(to_raw),
    or V(null)).
  returned: success
  type: str
  sample: qcow2
virtual_size:
  description: Virtual size of O(dest) in bytes.
  returned: when O(dest) is in place
  type: int
  sample: 3758096384
actual_size:
  description: Bytes O(dest) occupies on disk.
  returned: when O(dest) is in place
  type: int
  sample: 597229568
checksum:
  description: The checksum of the bytes downloaded as C(ALGORITHM:HEX), in the algorithm of O(checksum) (SHA-256
    without it); the recorded one when nothing was downloaded.
  returned: when O(dest) is in place
  type: str
  sample: sha256:b0e6c3b1a2d4c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0
downloaded:
  description: Bytes downloaded (before decompression).
  returned: when something was downloaded
  type: int
  sample: 597229568
size:
  description: Size of O(dest) in bytes, as Ansible reports it with the file's owner, group and mode (after
    decompression or conversion it differs from RV(downloaded)).
  returned: when O(dest) exists
  type: int
  sample: 3758096384
compression:
  description: The compression undone (V(gz), V(bz2), V(xz)), or V(null).
  returned: when something was downloaded
  type: str
  sample: xz
bytes_per_second:
  description: Throughput of the download (bytes received per second of streaming, hashing and writing).
  returned: when something was downloaded
  type: int
  sample: 412316860
duration:
  description: Seconds the fetch took, from the request to the rename (including inspection and conversion).
  returned: when something was downloaded
  type: float
  sample: 12.731
verdict:
  description: What the pure-Python inspector (and qemu-img, which must agree with it) found.
  returned: when an image was inspected (also when it was refused)
  type: dict
  contains:
    safe:
      description: Whether the image may be taken.
      type: bool
      sample: true
    reasons:
      description: Why it may not (empty when it may), each with a C(code) and a C(message).
      type: list
      elements: dict
      sample: [{code: backing_file, message: "the qcow2 header names backing file '/etc/shadow' (format raw)"}]
    allowed:
      description: Reasons waived (always empty here).
      type: list
      elements: dict
      sample: []
    notes:
      description: What the inspector noticed that refuses nothing.
      type: list
      elements: dict
      sample: []
    format:
      description: The format it was judged as.
      type: str
      sample: qcow2
reason:
  description: Why O(dest) was fetched.
  returned: when O(dest) was fetched or would be
  type: str
  sample: the checksum was sha256:1f2e..., now sha256:9a8b...
etag:
  description: The server's C(ETag) for the image (for a V(file://) URL, the validator made from the file's identity).
  returned: when known
  type: str
  sample: '"65f3a1c2-2399a000"'
last_modified:
  description: The server's C(Last-Modified) for the image.
  returned: when known
  type: str
  sample: Tue, 12 Nov 2026 08:00:00 GMT
record:
  description: Where the record was stored, V(xattr) or V(sidecar).
  returned: when a record was written
  type: str
  sample: xattr
adopted:
  description: O(dest) existed without a record, had the expected checksum and passed the inspection, and was adopted
    by recording it.
  returned: when that happened
  type: bool
  sample: true
required_bytes:
  description: Bytes the O(to_raw) conversion needs according to C(qemu-img measure).
  returned: when a conversion ran
  type: int
  sample: 3758096384
cache_mode:
  description: Cache mode of the O(to_raw) conversion.
  returned: when a conversion ran
  type: str
  sample: none
cmd:
  description: The qemu-img command line of the O(to_raw) conversion.
  returned: when a conversion ran
  type: list
  elements: str
  sample: [/usr/bin/qemu-img, convert, -q, -f, qcow2, -O, raw, -t, none, --,
           /var/lib/nova/instances/_base/.noble.raw.k2j4m9x1.part, /var/lib/nova/instances/_base/.noble.raw.a8d7f6e5.part]
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import url_argument_spec

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import scratch_file
from ansible_collections.hypervisor.images.plugins.module_utils._convert import Conversion, require_headroom
from ansible_collections.hypervisor.images.plugins.module_utils._fetch import (
    DECOMPRESS_CHOICES,
    DEFAULT_ALGORITHM,
    FetchError,
    Sink,
    checksum_url,
    expected_checksum,
    fetch_record,
    file_url_path,
    hash_file,
    mask_url,
    parse_checksum,
    pump,
    record_reasons,
    request,
    url_filename,
    url_passwords,
    url_problem,
    would_decompress,
)
from ansible_collections.hypervisor.images.plugins.module_utils._fs import (
    CHAR_DEVICE,
    FILE,
    MISSING,
    fs_usage,
    path_kind,
)
from ansible_collections.hypervisor.images.plugins.module_utils._identity import read_record, write_record
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import UnsafeImageError, inspect
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import CACHE_MODES, FORMATS, QemuImgError
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes

FORCE_HINT = 'Set force: true to replace it, or remove it first if it is not needed.'


class ImageFetch(ImageTask):

    device_hint = ('images are fetched into a temporary file and renamed into place, which a device cannot be; fetch '
                   'into a file, then copy it onto the device')

    def __init__(self, module):
        super(ImageFetch, self).__init__(module, module.params['dest'])
        self.url = self.params['url']
        self.name = mask_url(self.url)
        self.checksum = None
        self.expected = None
        self.max_size = None
        #: the source part of the record dest carries, or {}
        self.recorded = {}
        self.result.update(dest=self.path, url=self.name)

    def directory_hint(self):
        return 'give the path of the image file to write inside it'

    # -- checks ----------------------------------------------------------

    def validate(self):
        problem = url_problem(self.url)
        if problem:
            self.fail('%s.' % problem)
        if self.params['checksum']:
            self.checksum = parse_checksum(self.params['checksum'])
        self.max_size = self.parse_size_param('max_size', round_to=None)
        claimed, allowed = self.params['format'], self.params['allowed_formats']
        if not allowed:
            self.fail('allowed_formats is empty, so no image could ever be taken; list the formats to accept.')
        if claimed and claimed not in allowed:
            self.fail('format: %s is not in allowed_formats (%s); add it there if such images are to be taken.'
                      % (claimed, ', '.join(allowed)))
        if self.params['timeout'] <= 0:
            self.fail('timeout: %d must be a positive number of seconds.' % self.params['timeout'])

    def preflight(self):
        source = file_url_path(self.url)
        if source is not None:
            kind = path_kind(source)
            if kind == MISSING:
                self.fail('%s does not exist (the file %s names); nothing was written.' % (source, self.name))
            if kind not in (FILE, CHAR_DEVICE):
                self.fail('%s is a %s; a file URL must name a regular file or a character device.' % (source, kind))
        kind = self.refuse_non_file()
        self.require_directory()
        return kind

    def settings(self):
        return {'format': self.params['format'], 'allowed_formats': sorted(set(self.params['allowed_formats'])),
                'to_raw': self.params['to_raw'], 'decompress': self.params['decompress']}

    # -- the decision ----------------------------------------------------

    def decide_and_act(self, kind):
        self.expected = expected_checksum(self.module, self.checksum, self.url, timeout=self.params['timeout'],
                                          headers=self.params['headers'])
        if kind == MISSING:
            self.diff['before'] = {'path': self.path, 'state': 'absent'}
            return self.fetch('%s does not exist' % self.path)
        stored = read_record(self.path)
        self.recorded = (stored or {}).get('source') or {}
        if self.params['force']:
            return self.fetch('force is set')
        if stored is None:
            return self.adopt_or_refuse()
        reasons = record_reasons(stored, self.url, self.settings())
        if reasons:
            return self.fetch('; '.join(reasons))
        if self.expected is None:
            return self.fetch(None, conditional=True)
        if self.recorded.get('checksum') == self.expected:
            return self.nothing_to_do(self.recorded)
        return self.fetch('the checksum was %s, now %s' % (self.recorded.get('checksum'), self.expected))

    def state_of(self, facts, source):
        return {'path': self.path, 'state': 'present', 'format': facts.get('format'),
                'virtual_size': facts.get('virtual_size'), 'url': source.get('url'), 'checksum': source.get('checksum')}

    def nothing_to_do(self, source):
        facts = self.facts(declared_format=source.get('format'))
        self.diff['before'] = self.diff['after'] = self.state_of(facts, source)
        self.update_file_attributes()
        self.report(facts)
        self.result.update(checksum=source.get('checksum'), etag=source.get('etag'),
                           last_modified=source.get('last_modified'))

    def adopt_or_refuse(self):
        """``dest`` exists without a record: hash it once against the checksum and take it, or refuse."""
        if self.expected is None:
            self.fail('%s exists but carries no record of being fetched from %s by this module (or was changed since); '
                      'without checksum it cannot be compared with the image. Give checksum, or: %s'
                      % (self.path, self.name, FORCE_HINT))
        if would_decompress(self.params['decompress'], self.url, self.path):
            self.fail('%s exists but carries no record of being fetched from %s by this module (or was changed since); '
                      'the download would be decompressed, so its checksum cannot be compared with this file. %s'
                      % (self.path, self.name, FORCE_HINT))
        checksum = hash_file(self.path, self.checksum.algorithm)
        if checksum != self.expected:
            self.fail('%s exists, was not fetched from %s by this module (or was changed since), and its checksum is %s, '
                      'not %s. %s' % (self.path, self.name, checksum, self.expected, FORCE_HINT))
        verdict = self.judge(self.path)
        if self.params['to_raw'] and verdict['format'] != 'raw':
            self.fail('%s holds the image of %s as %s; with to_raw it would be converted to raw. %s'
                      % (self.path, self.name, verdict['format'], FORCE_HINT))
        record = fetch_record(self.url, self.settings(), dict(checksum=checksum, expected=self.expected,
                                                              format=verdict['format']))
        if not self.module.check_mode:
            self.result['record'] = write_record(self.path, self.path, record)
        self.result['adopted'] = True
        self.nothing_to_do(record['source'])

    # -- the fetch -------------------------------------------------------

    def fetch(self, reason, conditional=False):
        """Fetch into ``dest``; ``conditional``: only if the server says the recorded image changed."""
        start = time.monotonic()
        if self.module.check_mode and not conditional:
            return self.would_fetch(reason)
        response = request(self.module, self.url, method='HEAD' if self.module.check_mode else 'GET',
                           validators=self.recorded if conditional else None, headers=self.params['headers'],
                           timeout=self.params['timeout'], force=self.params['force'])
        with response:
            if response.not_modified:
                return self.nothing_to_do(self.recorded)
            if conditional:
                reason = changed_since(self.name, self.recorded, response)
            if self.module.check_mode:
                return self.would_fetch(reason)
            self.result['reason'] = reason
            self.describe_before()
            self.check_length(response.length)
            with scratch_file(self.path) as scratch:
                checksum = self.download(response, scratch)
                if conditional and checksum == self.recorded.get('checksum'):
                    self.keep(response)
                else:
                    verdict = self.judge(scratch)
                    source = dict(checksum=checksum, expected=self.expected, etag=response.etag,
                                  last_modified=response.last_modified, compression=self.result['compression'],
                                  downloaded=self.result['downloaded'])
                    self.put_in_place(scratch, verdict['format'], source)
        self.result['duration'] = round(time.monotonic() - start, 3)

    def describe_before(self):
        if not self.diff['before']:
            self.diff['before'] = self.state_of(self.describe(), self.recorded)

    def would_fetch(self, reason):
        self.describe_before()
        fmt = 'raw' if self.params['to_raw'] else self.params['format']
        self.result.update(changed=True, reason=reason, format=fmt)
        self.diff['after'] = {'path': self.path, 'state': 'present', 'format': fmt, 'virtual_size': None,
                              'url': self.name, 'checksum': self.expected}

    def check_length(self, length):
        """Refuse, before reading it, a response whose Content-Length is more than max_size or the free space."""
        if length is None:
            return
        if self.max_size is not None and length > self.max_size:
            raise FetchError('%s is %s according to its Content-Length, more than max_size (%s). Nothing was '
                             'downloaded; raise max_size if the image really is that big.'
                             % (self.name, human_and_bytes(length), human_and_bytes(self.max_size)), self.path)
        require_headroom(self.path, length, 'fetch %s' % self.name, 'its Content-Length',
                         self.params['check_free_space'])

    def stream_bound(self):
        """The most the stream may send or decompress to, and what to say when it does."""
        if self.max_size is not None:
            return self.max_size, 'That is max_size; raise it if the image really is that big.'
        directory = os.path.dirname(self.path)
        usage = fs_usage(directory)
        if self.params['check_free_space']:
            return usage['free'], ('That is the free space of the file system holding %s, the bound without max_size: '
                                   'free some space, or set max_size.' % directory)
        return usage['total'], ('That is the size of the file system holding %s, the bound without max_size and with '
                                'check_free_space: false; set max_size.' % directory)

    def download(self, response, scratch):
        """Stream the response into ``scratch`` (hashed, decompressed, bounded); return its checksum."""
        limit, limit_text = self.stream_bound()
        algorithm = self.checksum.algorithm if self.checksum else DEFAULT_ALGORITHM
        fd = os.open(scratch, os.O_WRONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            sink = Sink(fd, algorithm, decompress=self.params['decompress'], name=self.name,
                        filename=url_filename(self.url), limit=limit, limit_text=limit_text)
            started = time.monotonic()
            pump(response.readinto, sink.write)
            if response.length is not None and sink.received != response.length:
                raise FetchError('The download of %s ended after %d of the %d bytes its Content-Length announced. '
                                 'Nothing was written; run the task again.'
                                 % (self.name, sink.received, response.length), self.path)
            checksum = sink.close()
        finally:
            os.close(fd)
        seconds = time.monotonic() - started
        self.result.update(downloaded=sink.received, compression=sink.compression, etag=response.etag,
                           last_modified=response.last_modified,
                           bytes_per_second=int(sink.received / seconds) if seconds > 0 else None)
        if not response.still_current():
            raise FetchError('%s changed while it was being read, so what was read matches neither its old nor its new '
                             'content; nothing was written. Run the task again when nothing writes to it.'
                             % self.name, self.path)
        if self.expected is not None and checksum != self.expected:
            self.result['checksum'] = checksum
            raise FetchError('The checksum of %s is %s, not the expected %s. Nothing was written and the download was '
                             'removed; check the checksum and the mirror.' % (self.name, checksum, self.expected),
                             self.path)
        self.result['checksum'] = checksum
        return checksum

    def keep(self, response):
        """The server sent again what ``dest`` holds: record its new validators, change nothing else."""
        source = dict(self.recorded, etag=response.etag, last_modified=response.last_modified)
        self.result.pop('reason', None)
        self.result['record'] = write_record(self.path, self.path, fetch_record(self.url, self.settings(), source))
        self.nothing_to_do(source)

    def put_in_place(self, scratch, fmt, source):
        """Rename the checked download into place, or (to_raw) convert it into place."""
        conversion = None
        if self.params['to_raw'] and fmt != 'raw':
            conversion = Conversion(self.qemu, scratch, fmt, self.path, 'raw')
            self.result['required_bytes'] = conversion.required_bytes()
            conversion.check_headroom(self.result['required_bytes'], 'convert', self.params['check_free_space'],
                                      what='the download of %s' % self.name)
            self.result['cache_mode'] = conversion.choose_cache_mode(self.params['cache_mode'])
            fmt = 'raw'
        record = fetch_record(self.url, self.settings(), dict(source, format=fmt))

        def produce(tmp):
            return os.rename(scratch, tmp) if conversion is None else conversion.run(tmp)

        produced = self.write_atomically(produce, record=record, what='fetch')
        self.result['changed'] = True
        if conversion is not None:
            self.result['cmd'] = produced.cmd
        facts = self.facts(declared_format=fmt)
        self.report(facts)
        self.diff['after'] = self.state_of(facts, record['source'])

    # -- inspection ------------------------------------------------------

    def judge(self, path):
        """The verdict on ``path`` (see :mod:`._inspect`), returned; the task fails (nothing written) unless it is safe.

        Unsafe: whatever the inspector refuses (a backing file, a data file,
        extents, a protocol name, a format other than the claimed one, a qcow2
        claimed raw among them, ...), a format outside allowed_formats, and an
        image that resource-limited ``qemu-img info -f FORMAT`` does not read
        as the inspector does.
        """
        inspection = inspect(path, claimed_format=self.params['format'])
        fmt = inspection.qemu_format or inspection.format
        verdict = inspection.verdict()
        if fmt not in self.params['allowed_formats']:
            verdict['reasons'].append({'code': 'format_not_allowed', 'message': 'its format %s is not in '
                                       'allowed_formats (%s)' % (fmt, ', '.join(self.params['allowed_formats']))})
        if not verdict['reasons'] and not inspection.refusals():
            try:
                self.facts(path, inspection=inspection)
            except UnsafeImageError:
                verdict = inspection.verdict()  # with qemu-img's disagreement
            except QemuImgError as exc:
                verdict['reasons'].append({'code': 'qemu_disagrees', 'message': 'qemu-img does not read it as %s: %s'
                                           % (fmt, exc.msg)})
        verdict['safe'] = not verdict['reasons']
        verdict['format'] = fmt
        self.result['verdict'] = verdict
        if not verdict['safe']:
            self.fail('The image from %s was refused: %s. Nothing was written and %s is as it was. Fetch only images '
                      'you can trust; if this one really is of another format, set format and allowed_formats to it.'
                      % (self.name, '; '.join(reason['message'] for reason in verdict['reasons']), self.path))
        return verdict


def changed_since(name, recorded, response):
    """Why a conditional request did not answer 304, for ``reason``."""
    if response.status != 200:
        return ('%s does not answer HEAD (HTTP %s), so check mode cannot ask whether the image changed; a real run '
                'asks with a conditional GET' % (name, response.status))
    if not recorded.get('etag') and not recorded.get('last_modified'):
        return ('%s gave no ETag or Last-Modified when it was fetched, so it was downloaded again to compare checksums'
                % name)
    for key, label in (('etag', 'ETag'), ('last_modified', 'Last-Modified')):
        if recorded.get(key) and recorded.get(key) != getattr(response, key):
            return '%s changed since it was fetched (%s %s, now %s)' % (name, label, recorded[key],
                                                                        getattr(response, key))
    return '%s answered the conditional request with the image' % name


def secrets_of(params):
    """The passwords in the URLs of ``url`` and ``checksum`` (ALGO:URL), which no output may show."""
    return url_passwords(params.get('url'), checksum_url(params.get('checksum')))


class FetchModule(AnsibleModule):
    """An AnsibleModule that masks the passwords of URLs from the moment it has read its arguments.

    So that what it returns, warns and logs never shows them, not even when
    the arguments fail validation (which happens before the module is made).
    """

    def _load_params(self):
        super(FetchModule, self)._load_params()
        if isinstance(self.params, dict):
            self.no_log_values.update(secrets_of(self.params))


def main():
    argument_spec = url_argument_spec()
    argument_spec.update(
        url=dict(type='str', required=True),
        dest=dict(type='path', required=True),
        checksum=dict(type='str'),
        format=dict(type='str', choices=list(FORMATS)),
        allowed_formats=dict(type='list', elements='str', choices=list(FORMATS), default=['raw', 'qcow2']),
        to_raw=dict(type='bool', default=False),
        cache_mode=dict(type='str', default='auto', choices=['auto'] + list(CACHE_MODES)),
        decompress=dict(type='str', default='auto', choices=list(DECOMPRESS_CHOICES)),
        max_size=dict(type='str'),
        timeout=dict(type='int', default=10),
        headers=dict(type='dict', default={}),
        check_free_space=dict(type='bool', default=True),
    )
    module = FetchModule(argument_spec=argument_spec, add_file_common_args=True, supports_check_mode=True)
    module.no_log_values.update(secrets_of(module.params))
    ImageFetch(module).run()


if __name__ == '__main__':
    main()
