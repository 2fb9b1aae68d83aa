#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_cache_prune
short_description: Remove the base images of a cache that nothing uses any more
version_added: 0.1.0
description:
  - Removes the entries of a base-image cache (for example Nova's C(/var/lib/nova/instances/_base)) that no image uses
    and that have not been modified for O(min_age), as Nova's image cache manager does inside nova-compute, for hosts
    and storage that have no Nova to do it.
  - A cache entry is B(in use) when any file under O(users) would make qemu open it, at any depth - as a backing file
    (a plain name, a C(file:) name or C(json:{...}) block options), as a qcow2 external data file, or as a VMDK
    extent, of the file itself or of any file it opens in turn (an overlay on it, or an overlay on another base that is
    based on it) - or carries a record of having been made from it by M(hypervisor.images.image_convert),
    M(hypervisor.images.sparse_copy) or M(hypervisor.images.image_snapshot_extract). The files are read themselves, a
    few KiB of headers each in pure Python (qemu-img never runs), and every name is resolved as qemu resolves it; so
    overlays on shared storage are seen whichever host made them. Entries are matched by device and inode, so symbolic
    links, hard links and other spellings of a path count. Hidden files are read too, since a writer's temporary file
    names its base before it is renamed into place.
  - The cache's own entries count as users too; a base used only by another base that is itself removed in this run is
    removed in the same run, and one used by a base that stays (in use, young or busy) is kept.
  - An entry in use is kept and its users reported in RV(kept_in_use); an unused entry modified less than O(min_age)
    ago (by its modification time, as Nova) is kept and reported in RV(kept_young); the rest are removed.
  - An entry is B(busy), kept and reported in RV(kept_busy) with the reason in RV(busy_reasons), when a task of this
    collection is writing it (its lock C(.NAME.lock) held, or a temporary file of a writer beside it), when a process
    holds qemu's image locks on it (a running virtual machine, a VM started with C(-snapshot), qemu-io, qemu-nbd, a
    qemu-img convert reading it), or when any process has it open (read from C(/proc/PID/fd); as another user than
    root only the task's own processes can be seen, and the task warns).
  - Each removal takes the entry's lock without waiting. Under the locks the users are scanned again, the ages and the
    busy checks read again, and the scan is repeated until nothing it read has changed (an overlay created or a file
    rewritten during the scan), so an overlay made meanwhile keeps its base. The entry goes with its source record and
    its lock file.
  - To go, an entry is first renamed to a hidden name beside it, C(.NAME.removing), so that nothing opens it by its name
    any more; then the task looks for whoever opened it just before (a process holding it open or its qemu image lock,
    and, after a short pause in which a qemu-img that read it finishes the overlay it writes, the users scanned once
    more). An entry something started to use gets its name back and is reported in RV(kept_busy); the others are
    removed. SIGTERM, SIGINT and SIGHUP wait until that is done. A run killed meanwhile (C(kill -9)) leaves entries
    under their hidden names; M(hypervisor.images.image_audit) lists them, and the next run of this task puts them back
    under their names first (RV(restored)) and then decides about them as about any other entry.
  - When a file under O(users) cannot be read, or names a file qemu would open by a name that cannot be resolved here
    (a name after C(file:), in C(json:) options or of a data file that is relative to the working directory of the
    process that opens it), whether it uses an entry cannot be told, so the task fails and removes nothing. Names of
    network storage (C(nbd:), C(http://), ...) use no entry.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - Check mode scans, checks which entries are busy and plans exactly as a real run, and lists in RV(removed) what
        would go; nothing is locked or removed.
  diff_mode:
    support: full
    details:
      - The diff lists the cache's entries (the candidates O(patterns) and O(exclude) select) before and after.
options:
  path:
    description:
      - The cache directory. Its regular files are the entries; hidden files (lock files, temporary files, records)
        and symbolic links are never entries.
    type: path
    required: true
  users:
    description:
      - Directories whose files may use the cache's entries, searched recursively (symbolic links to directories are
        not followed).
      - Defaults to the cache's parent directory (for Nova, the instances directory that holds C(_base) and one
        directory per instance). The cache itself is always searched too.
      - A directory that does not exist fails the task, since a mistyped one would make entries in use look unused.
    type: list
    elements: path
  min_age:
    description:
      - How long an unused entry must have gone unmodified before it is removed, as a number of seconds or with a unit
        C(s), C(m), C(h), C(d) or C(w) (C(90m), C(24h), C(7d)).
      - Nova's default for unused base images is 24 hours.
    type: str
    default: 24h
  patterns:
    description:
      - Shell-style patterns (C(fnmatch)) that the names of entries must match, for example C(*.qcow2) or C(ephemeral_*).
      - By default every regular file of the cache is an entry.
    type: list
    elements: str
    default: ['*']
  exclude:
    description:
      - Shell-style patterns of names that are never entries.
    type: list
    elements: str
    default: []
notes:
  - Run it on every host that shares a cache on network storage with the same O(users), or on one host that sees all
    the overlays; files that only other hosts see (local instance directories of another host) are not found.
seealso:
  - module: hypervisor.images.cow_image
  - module: hypervisor.images.image_convert
'''

EXAMPLES = r'''
- name: Remove the base images no instance has used for a day, as nova-compute does
  hypervisor.images.image_cache_prune:
    path: /var/lib/nova/instances/_base

- name: Show what would go from a cache shared by two instance trees, without removing anything
  hypervisor.images.image_cache_prune:
    path: /srv/images/cache
    users:
      - /srv/vms
      - /mnt/shared/vms
    min_age: 7d
    patterns: ['*.qcow2', '*.raw']
    exclude: ['golden-*']
  check_mode: true
  register: plan

- name: Report the plan
  ansible.builtin.debug:
    msg: "{{ plan.removed | length }} entries would go ({{ plan.bytes_freed | human_readable }})"
'''

RETURN = r'''
path:
  description: Absolute path of the cache directory.
  returned: always
  type: str
  sample: /var/lib/nova/instances/_base
removed:
  description: Paths of the entries removed (in check mode, that would be removed).
  returned: success
  type: list
  elements: str
  sample: [/var/lib/nova/instances/_base/8d6ae1b3]
kept_in_use:
  description: Entries kept because files use them, each with the paths of its users.
  returned: success
  type: dict
  sample: {/var/lib/nova/instances/_base/ubuntu: [/var/lib/nova/instances/0b7e/disk]}
kept_young:
  description: Unused entries kept because they were modified less than O(min_age) ago.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/nova/instances/_base/new-base]
kept_busy:
  description: Entries kept because they were busy (written by a task, locked by qemu or open in a process) and not in
    use; RV(busy_reasons) says why. What they use is kept too.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/nova/instances/_base/rescue]
busy_reasons:
  description: Why each entry of RV(kept_busy) is busy.
  returned: success
  type: dict
  sample: {/var/lib/nova/instances/_base/rescue: open in process 4242 (qemu-system-x86)}
bytes_freed:
  description: Bytes the removed entries occupied on disk (allocated blocks, not their apparent size); in check mode,
    what would be freed.
  returned: success
  type: int
  sample: 2147483648
restored:
  description: Entries that a killed run had left under their hidden names C(.NAME.removing), given back their names
    before anything else (in check mode, that would be); the plan then treats them as any other entry.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/nova/instances/_base/8d6ae1b3]
files_scanned:
  description: Number of files read to find the users.
  returned: success
  type: int
  sample: 812
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import AtomicError, DestinationLock, lock_state
from ansible_collections.hypervisor.images.plugins.module_utils._cache import (
    Scan,
    busy_entries,
    cache_entries,
    key_of,
    plan,
    removal_leftovers,
    remove_unused,
    require_complete,
    restore,
    selected,
)
from ansible_collections.hypervisor.images.plugins.module_utils._fs import DIRECTORY, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._identity import remove_record
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import parse_duration


#: how often the users are scanned again when they changed during a scan, before giving up for this run
SCAN_ATTEMPTS = 5
#: the pause between a scan and the check that nothing changed
SETTLE_SECONDS = 0.2


class CachePrune(ImageTask):

    def __init__(self, module):
        super(CachePrune, self).__init__(module, module.params['path'])
        self.users = [os.path.abspath(path) for path in self.params['users'] or [os.path.dirname(self.path)]]
        self.min_age = None
        self.unseen = 0
        self.restorable = {}
        self.discarded = []
        self.result.update({'path': self.path, 'removed': [], 'kept_in_use': {}, 'kept_young': [], 'kept_busy': [],
                            'busy_reasons': {}, 'bytes_freed': 0, 'restored': []})

    def validate(self):
        self.min_age = parse_duration(self.params['min_age'], 'min_age')

    def preflight(self):
        for path, what in [(self.path, 'The cache')] + [(user, 'The users directory') for user in self.users]:
            kind = path_kind(path)
            if kind != DIRECTORY:
                self.fail('%s %s is %s, not a directory; nothing was removed.'
                          % (what, path, 'missing' if kind == 'missing' else 'a %s' % kind))
        return DIRECTORY

    def lock(self, kind):
        return None  # each entry is locked on its own, when it is removed

    def decide_and_act(self, kind):
        self.recover()
        entries, planned, scan = self.plan()
        self.report_plan(entries, planned)
        self.diff['before'] = {'path': self.path, 'entries': sorted(path for path, st in entries.values())}
        if not self.module.check_mode and planned['remove']:
            self.remove_entries(planned['remove'])
        self.result['files_scanned'] = scan.files
        self.result['removed'] = sorted(self.result['removed'] + [hidden for hidden, freed in self.discarded])
        self.result['bytes_freed'] += sum(freed for hidden, freed in self.discarded)
        self.result['changed'] = bool(self.result['removed'] or self.result['restored'])
        self.warn_unseen()
        removed = set(self.result['removed'])
        self.diff['after'] = {'path': self.path,
                              'entries': [path for path in self.diff['before']['entries'] if path not in removed]}

    def recover(self):
        """Give back their names to the entries a killed run left under a hidden name (check mode: plan with them).

        One whose name another file has taken meanwhile is no longer reached by any name, and goes.
        """
        for hidden, path in removal_leftovers(self.path):
            if lock_state(path) == 'held':
                continue  # another run is removing it now
            if self.module.check_mode:
                try:
                    st = os.stat(hidden)
                except FileNotFoundError:
                    continue  # another run finished it
                if os.path.lexists(path):
                    self.discard(hidden, path, st)
                else:
                    if selected(os.path.basename(path), self.params['patterns'], self.params['exclude']):
                        self.restorable[key_of(st)] = (path, st)
                    self.result['restored'].append(path)
                continue
            lock = DestinationLock(path, timeout=0)
            try:
                lock.acquire()
            except AtomicError:
                continue
            try:
                st = os.stat(hidden)
                if restore(hidden, path):
                    self.result['restored'].append(path)
                else:
                    os.unlink(hidden)
                    self.discard(hidden, path, st)
            except FileNotFoundError:
                continue  # another run finished it
            finally:
                lock.release()

    def discard(self, hidden, path, st):
        self.discarded.append((hidden, st.st_blocks * 512))
        self.module.warn('%s is an entry that a killed run was removing; another file has taken its name %s since, so '
                         'no name leads to it any more, and it %s removed.'
                         % (hidden, path, 'would be' if self.module.check_mode else 'was'))

    def plan(self, locked=()):
        """The cache's entries, a fresh scan of the users, and the plan (``locked``: entries whose locks we hold)."""
        entries = cache_entries(self.path, self.params['patterns'], self.params['exclude'])
        entries.update(self.restorable)
        # in check mode, a name of an entry still under its hidden name leads to that entry
        aliases = dict((os.path.realpath(path), key) for key, (path, st) in self.restorable.items())
        scan = Scan(aliases=aliases).walk(self.users + [self.path])
        require_complete(scan)
        busy, unseen = busy_entries(entries, locked)
        now = time.time()
        old = set(key for key, (path, st) in entries.items() if now - st.st_mtime >= self.min_age)
        planned = plan(entries, scan, old, busy)
        planned['reasons'] = busy
        if unseen:
            self.unseen = unseen
        return entries, planned, scan

    def report_plan(self, entries, planned):
        self.result['kept_in_use'] = dict((entries[key][0], users) for key, users in planned['in_use'].items())
        self.result['kept_young'] = sorted(entries[key][0] for key in planned['young'])
        self.result['kept_busy'] = sorted(entries[key][0] for key in planned['busy'])
        self.result['busy_reasons'] = dict((entries[key][0], planned['reasons'][key]) for key in planned['busy'])
        self.result['removed'] = sorted(entries[key][0] for key in planned['remove'])
        self.result['bytes_freed'] = sum(entries[key][1].st_blocks * 512 for key in planned['remove'])

    def remove_entries(self, keys):
        """Lock the entries without waiting, plan again under the locks until nothing changes, remove what may go."""
        locks = {}
        try:
            entries = cache_entries(self.path, self.params['patterns'], self.params['exclude'])
            for key in sorted(set(keys) & set(entries), key=lambda key: entries[key][0]):
                lock = DestinationLock(entries[key][0], timeout=0)
                try:
                    lock.acquire()
                except AtomicError:
                    continue  # a writer took it just now: the plan below sees it busy
                locks[key] = lock
            entries, planned = self.settled_plan(set(locks))
            removed, kept = remove_unused(entries, planned['remove'], self.users + [self.path], SETTLE_SECONDS)
            for key in removed:
                remove_record(entries[key][0])
            if kept:
                planned['reasons'].update(kept)
                planned['busy'] |= set(kept)
            self.report_plan(entries, planned)
            self.result['removed'] = sorted(entries[key][0] for key in removed)
            self.result['bytes_freed'] = sum(entries[key][1].st_blocks * 512 for key in removed)
        finally:
            for lock in locks.values():
                lock.release()

    def settled_plan(self, locked):
        """The plan of a scan that nothing changed during, and that still holds after a pause.

        An overlay created while the users are scanned could be missed, so the
        scan is repeated until no directory or file it read has changed; a
        pause lets a qemu-img that opened an entry just before the scan finish
        writing the overlay it creates. Entries not locked by this run, and
        entries that became busy meanwhile, stay.
        """
        for dummy in range(SCAN_ATTEMPTS):
            entries, planned, scan = self.plan(locked)
            time.sleep(SETTLE_SECONDS)
            if not scan.changed():
                break
        else:
            entries, planned, scan = self.plan(locked)
            reason = 'the users\' directories kept changing while they were scanned; left for the next run'
            return entries, self.keep(entries, planned, scan, set(planned['remove']), reason)
        late = set(key for key in planned['remove'] if key not in locked)
        planned = self.keep(entries, planned, scan, late, 'written while the task ran; left for the next run')
        now_busy, dummy = busy_entries(dict((key, entries[key]) for key in planned['remove']), locked)
        if now_busy:
            planned['reasons'].update(now_busy)
            planned = self.keep(entries, planned, scan, set(now_busy), None)
        return entries, planned

    def keep(self, entries, planned, scan, keys, reason):
        """The plan again with ``keys`` kept busy (for ``reason``, unless they have one): what they use stays too."""
        if not keys:
            return planned
        reasons = planned['reasons']
        for key in keys:
            reasons.setdefault(key, reason)
        now = time.time()
        old = set(key for key, (path, st) in entries.items() if now - st.st_mtime >= self.min_age)
        replanned = plan(entries, scan, old, set(reasons))
        replanned['reasons'] = reasons
        return replanned

    def warn_unseen(self):
        if self.unseen:
            self.module.warn('The open files of %d process(es) could not be read (run the task as root, with become): '
                             'an entry only they hold open was not seen as busy.' % self.unseen)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            users=dict(type='list', elements='path'),
            min_age=dict(type='str', default='24h'),
            patterns=dict(type='list', elements='str', default=['*']),
            exclude=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    CachePrune(module).run()


if __name__ == '__main__':
    main()
