# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the image_fetch module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

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


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
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
    return dict(argument_spec=argument_spec, add_file_common_args=True, supports_check_mode=True)
