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
  - A cache entry is B(in use) when any file under O(users) names it anywhere in its backing chain (an overlay on it,
    or an overlay on another base that is based on it), or carries a record of having been made from it by
    M(hypervisor.images.image_convert), M(hypervisor.images.sparse_copy) or
    M(hypervisor.images.image_snapshot_extract). The files are read themselves, a few KiB of headers each in pure
    Python (qemu-img never runs), and relative backing names are resolved as qemu resolves them; so overlays on shared
    storage are seen whichever host made them. Entries are matched by device and inode, so symbolic links, hard links
    and other spellings of a path count.
  - The cache's own entries count as users too; a base used only by another base that is itself removed in this run is
    removed in the same run, and one used by a base that stays is kept.
  - An entry in use is kept and its users reported in RV(kept_in_use); an unused entry modified less than O(min_age)
    ago (by its modification time, as Nova) is kept and reported in RV(kept_young); the rest are removed.
  - Each removal takes the same lock that the modules writing the entry take (C(.NAME.lock) beside it), without
    waiting; an entry being written right now (its lock held, or a temporary file of a writer beside it) is never
    removed and is reported in RV(kept_busy). Under the locks, the users are scanned again and the ages read again, so
    an overlay made meanwhile keeps its base. The entry goes with its source record and its lock file.
  - When a file under O(users) cannot be read, whether it uses an entry cannot be told, so the task fails and removes
    nothing.
author:
  - hypervisor.images contributors (@hypervisor-images)
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
    details:
      - Check mode scans and plans exactly as a real run and lists in RV(removed) what would go; nothing is locked or
        removed.
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
  description: Unused, old entries kept because a task was writing them (their lock held, or a temporary file beside them).
  returned: success
  type: list
  elements: str
  sample: []
bytes_freed:
  description: Bytes the removed entries occupied on disk (allocated blocks, not their apparent size); in check mode,
    what would be freed.
  returned: success
  type: int
  sample: 2147483648
files_scanned:
  description: Number of files read to find the users.
  returned: success
  type: int
  sample: 812
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import (
    AtomicError,
    DestinationLock,
    has_temps,
    lock_state,
)
from ansible_collections.hypervisor.images.plugins.module_utils._cache import Scan, cache_entries, plan, require_complete
from ansible_collections.hypervisor.images.plugins.module_utils._fs import DIRECTORY, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._identity import remove_record
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import parse_duration


class CachePrune(ImageTask):

    def __init__(self, module):
        super(CachePrune, self).__init__(module, module.params['path'])
        self.users = [os.path.abspath(path) for path in self.params['users'] or [os.path.dirname(self.path)]]
        self.min_age = None
        self.result.update({'path': self.path, 'removed': [], 'kept_in_use': {}, 'kept_young': [], 'kept_busy': [],
                            'bytes_freed': 0})

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
        entries, planned, scan = self.plan()
        # Entries a writer is at work on stay; check mode sees them as the real run does.
        busy = set(key for key in planned['remove'] if self.busy(entries[key][0]))
        planned['remove'] -= busy
        self.result['kept_busy'] = sorted(entries[key][0] for key in busy)
        self.report_plan(entries, planned)
        self.diff['before'] = {'path': self.path, 'entries': sorted(path for path, st in entries.values())}
        if not self.module.check_mode and planned['remove']:
            self.remove(entries, planned['remove'])
        self.result['files_scanned'] = scan.files
        self.result['changed'] = bool(self.result['removed'])
        removed = set(self.result['removed'])
        self.diff['after'] = {'path': self.path,
                              'entries': [path for path in self.diff['before']['entries'] if path not in removed]}

    def plan(self, only=None):
        """The cache's entries (all, or those of ``only``), a fresh scan of the users, and the plan."""
        entries = cache_entries(self.path, self.params['patterns'], self.params['exclude'])
        if only is not None:
            entries = dict((key, value) for key, value in entries.items() if key in only)
        scan = Scan().walk(self.users + [self.path])
        require_complete(scan)
        now = time.time()
        old = set(key for key, (path, st) in entries.items() if now - st.st_mtime >= self.min_age)
        return entries, plan(entries, scan, old), scan

    def report_plan(self, entries, planned):
        self.result['kept_in_use'] = dict((entries[key][0], users) for key, users in planned['in_use'].items())
        self.result['kept_young'] = sorted(entries[key][0] for key in planned['young'])
        self.result['removed'] = sorted(entries[key][0] for key in planned['remove'])
        self.result['bytes_freed'] = sum(entries[key][1].st_blocks * 512 for key in planned['remove'])

    @staticmethod
    def busy(path):
        """Whether a task is writing ``path``: its lock is held, or a writer's temporary file lies beside it."""
        return lock_state(path) == 'held' or has_temps(path)

    def remove(self, entries, keys):
        """Lock each entry without waiting, plan again under the locks, and remove what is still unused."""
        locks = {}
        try:
            for key in sorted(keys, key=lambda key: entries[key][0]):
                path = entries[key][0]
                lock = DestinationLock(path, timeout=0)
                try:
                    lock.acquire()
                except AtomicError:
                    self.result['kept_busy'].append(path)
                    continue
                if has_temps(path):  # a writer made it through its lock just now
                    lock.release()
                    self.result['kept_busy'].append(path)
                    continue
                locks[key] = lock
            entries, planned, dummy = self.plan(only=set(locks))
            removed = []
            freed = 0
            for key in sorted(planned['remove'], key=lambda key: entries[key][0]):
                path, st = entries[key]
                os.unlink(path)
                remove_record(path)
                removed.append(path)
                freed += st.st_blocks * 512
            self.result['kept_busy'].sort()
            self.result['removed'] = removed
            self.result['bytes_freed'] = freed
            self.result['kept_in_use'].update(
                (entries[key][0], users) for key, users in planned['in_use'].items())
            self.result['kept_young'] = sorted(set(self.result['kept_young']) | set(
                entries[key][0] for key in planned['young']))
        finally:
            for lock in locks.values():
                lock.release()


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
