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

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.image_fetch import (
    FetchModule,
    ImageFetch,
    module_args,
    secrets_of,
)


def main():
    module = FetchModule(**module_args())
    module.no_log_values.update(secrets_of(module.params))
    ImageFetch(module).run()


if __name__ == '__main__':
    main()
