# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A host's whole plan of images in one module call: the entries, their order, and one run of each.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Each entry names one of the single modules and gives its options, exactly as a
task would. The entry runs that module's own task class (:mod:`._tasks`) in
this process, through :class:`EntryModule`, which gives the task the entry's
validated parameters and the plan's check and diff modes, and turns the task's
``exit_json``/``fail_json`` into a result. Entries run in dependency order: an
entry that reads a file another entry writes (an overlay's backing file, a
conversion's or a copy's source, the image a file system is made on) runs after
it; directories come first.

In check mode nothing is written, so an entry whose input another entry would
create does not exist yet: such an entry is reported as "would be created"
(changed, with a diff from absent) instead of being run against a missing file,
and check mode on a fresh host reports the whole plan.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._tasks import (
    cow_image,
    image_convert,
    image_fetch,
    mkfs,
    qemu_image,
    sparse_copy,
)

#: module name -> (task module, the option naming what it writes, the options naming what it reads)
KINDS = {
    'qemu_image': (qemu_image, 'path', ()),
    'cow_image': (cow_image, 'path', ('backing_file',)),
    'image_convert': (image_convert, 'dest', ('src',)),
    'sparse_copy': (sparse_copy, 'dest', ('src',)),
    'image_fetch': (image_fetch, 'dest', ()),
    # a file system is made on an image the plan may create first
    'mkfs': (mkfs, 'dev', ('dev',)),
}
#: options every image entry may take from the plan's defaults
DEFAULTABLE = ('owner', 'group', 'mode')


class PlanError(TaskError):
    """The plan itself is wrong: an unknown module, bad options, a cycle."""


class EntryDone(Exception):
    def __init__(self, result):
        super(EntryDone, self).__init__('done')
        self.result = result


class EntryFailed(Exception):
    def __init__(self, msg, result):
        super(EntryFailed, self).__init__(msg)
        self.msg = msg
        self.result = result


class EntryModule(object):
    """What a task asks of its AnsibleModule, for one entry: its parameters, and the plan's module for the rest."""

    def __init__(self, module, params):
        self._module = module
        self.params = params
        self.check_mode = module.check_mode
        self._diff = module._diff

    def add_path_info(self, kwargs):
        return self._module.add_path_info(kwargs)

    def exit_json(self, **kwargs):
        raise EntryDone(self.add_path_info(kwargs))

    def fail_json(self, msg, **kwargs):
        raise EntryFailed(msg, kwargs)

    def __getattr__(self, name):
        return getattr(self._module, name)


class Entry(object):
    """One entry of the plan: its number, module, validated parameters, output and inputs."""

    def __init__(self, index, kind, params):
        self.index = index
        self.kind = kind
        self.params = params
        task_module, output, inputs = KINDS[kind]
        self.task_module = task_module
        self.output = os.path.abspath(params[output])
        self.inputs = [os.path.abspath(params[name]) for name in inputs if params.get(name)]

    @property
    def label(self):
        return 'entry %d (%s %s)' % (self.index, self.kind, self.output)


def parse_entries(raw_entries, defaults):
    """Validate each entry against its module's own argument spec; raise PlanError naming the entry."""
    entries = []
    for index, raw in enumerate(raw_entries or [], 1):
        if not isinstance(raw, dict) or len(raw) != 1:
            raise PlanError('images: entry %d must be a mapping with one key, the module it runs (%s), whose value '
                            'holds that module\'s options; got %r.' % (index, ', '.join(sorted(KINDS)), raw))
        kind, options = list(raw.items())[0]
        kind = kind.rpartition('.')[2]  # hypervisor.images.cow_image or cow_image
        if kind not in KINDS:
            raise PlanError('images: entry %d runs %r, which a plan cannot run; use one of %s.'
                            % (index, kind, ', '.join(sorted(KINDS))))
        if not isinstance(options, dict):
            raise PlanError('images: entry %d (%s) must give its options as a mapping, got %r.' % (index, kind, options))
        params = dict((key, value) for key, value in (defaults or {}).items() if key in DEFAULTABLE and value is not None)
        params.update(options)
        spec_kwargs = KINDS[kind][0].module_args()
        spec = dict(spec_kwargs['argument_spec'])
        if spec_kwargs.get('add_file_common_args'):
            for key, value in FILE_COMMON_ARGUMENTS.items():
                spec.setdefault(key, value)
        else:
            for key in DEFAULTABLE:
                if key in (defaults or {}) and key not in options:
                    params.pop(key, None)
        constraints = ('mutually_exclusive', 'required_together', 'required_one_of', 'required_if', 'required_by')
        validator = ArgumentSpecValidator(
            spec, **dict((key, spec_kwargs[key]) for key in constraints if spec_kwargs.get(key)))
        validated = validator.validate(params)
        if validated.error_messages:
            raise PlanError('images: entry %d (%s): %s.' % (index, kind, '; '.join(validated.error_messages)))
        secrets = set(validated._no_log_values)
        if kind == 'image_fetch':
            secrets |= image_fetch.secrets_of(validated.validated_parameters)
        entries.append((Entry(index, kind, validated.validated_parameters), secrets))
    return entries


def order(entries):
    """The entries in dependency order (an entry after those writing its inputs), else in the order given."""
    by_output = {}
    for entry in entries:
        by_output.setdefault(entry.output, []).append(entry)
    done, ordered, visiting = set(), [], set()

    def visit(entry, path):
        if entry.index in done:
            return
        if entry.index in visiting:
            raise PlanError('images: the entries form a cycle: %s.' % ' -> '.join(item.label for item in path + [entry]))
        visiting.add(entry.index)
        # the entries that make an input (not those that only change it in place, as mkfs does)
        producers = [producer for wanted in entry.inputs for producer in by_output.get(wanted, [])
                     if wanted not in producer.inputs]
        # of the entries that change the same file in place (file systems made on one image), the earlier first
        if entry.output in entry.inputs:
            producers += [producer for producer in by_output.get(entry.output, [])
                          if producer.index < entry.index and producer.output in producer.inputs]
        for producer in producers:
            if producer is not entry:
                visit(producer, path + [entry])
        visiting.discard(entry.index)
        done.add(entry.index)
        ordered.append(entry)

    for entry in entries:
        visit(entry, [])
    return ordered


def run_entry(module, entry):
    """Run ``entry``'s task; return (result, failure message or None)."""
    task_class = getattr(entry.task_module, TASK_CLASSES[entry.kind])
    try:
        task_class(EntryModule(module, entry.params)).run()
    except EntryDone as done:
        return done.result, None
    except EntryFailed as failed:
        return failed.result, failed.msg
    return {}, '%s ended without a result' % entry.label


TASK_CLASSES = {
    'qemu_image': 'QemuImage',
    'cow_image': 'CowImage',
    'image_convert': 'ImageConvert',
    'sparse_copy': 'SparseCopy',
    'image_fetch': 'ImageFetch',
    'mkfs': 'Mkfs',
}


def would_create(entry, waiting_for):
    """The check-mode result of an entry whose input the plan has not made yet."""
    return {
        'changed': True,
        'path': entry.output,
        'msg': '%s would run on %s once %s exists (check mode)' % (entry.kind, entry.output, waiting_for),
        'diff': {'before': {'path': entry.output, 'state': 'absent'},
                 'after': {'path': entry.output, 'state': 'present'}},
    }


class PlanRun(object):
    """Parse the plan, order it, make the directories, run each entry, report: one module call."""

    def __init__(self, module):
        self.module = module
        self.results = []
        self.pending = set()  # paths check mode would create, which do not exist yet

    def fail(self, msg):
        self.module.fail_json(msg=msg, results=self.results, **self.diff())

    def diff(self):
        if not self.module._diff:
            return {}
        return {'diff': [dict(result['diff'], before_header=result['path'], after_header=result['path'])
                         for result in self.results if result.get('diff')]}

    def run(self):
        params = self.module.params
        try:
            parsed = parse_entries(params['images'], params['defaults'])
            for dummy, secrets in parsed:
                self.module.no_log_values.update(secrets)
            entries = order([entry for entry, dummy in parsed])
        except PlanError as exc:
            self.fail(exc.msg)
        for directory in params['directories']:
            self.make_directory(directory)
        for entry in entries:
            self.run_one(entry)
        changed = sum(1 for result in self.results if result.get('changed'))
        self.module.exit_json(
            changed=bool(changed), results=self.results,
            msg='%d entries: %d %s, %d unchanged' % (len(self.results), changed,
                                                     'would change' if self.module.check_mode else 'changed',
                                                     len(self.results) - changed),
            **self.diff())

    def run_one(self, entry):
        waiting = [path for path in entry.inputs + [os.path.dirname(entry.output)] if path in self.pending]
        if self.module.check_mode and waiting:
            result = would_create(entry, waiting[0])
        else:
            result, failure = run_entry(self.module, entry)
            result.pop('invocation', None)
            if failure:
                result.update(module=entry.kind, path=entry.output, failed=True, msg=failure, changed=False)
                self.results.append(result)
                done = sum(1 for item in self.results if not item.get('failed'))
                self.fail('%s failed: %s The %d entries before it are done (see results); the entries after it did '
                          'not run. Fix it and run the plan again.' % (entry.label, failure, done))
        result.update(module=entry.kind, path=entry.output)
        if not self.module._diff:
            result.pop('diff', None)
        if self.module.check_mode and result.get('changed') and not os.path.lexists(entry.output):
            self.pending.add(entry.output)
        self.results.append(result)

    def make_directory(self, directory):
        path = os.path.abspath(directory['path'])
        defaults = self.module.params['defaults']
        attributes = dict(path=path, mode=directory['mode'], owner=directory['owner'] or defaults.get('owner'),
                          group=directory['group'] or defaults.get('group'), setype=directory.get('setype'))
        result = {'module': 'directory', 'path': path, 'changed': False}
        missing = not os.path.isdir(path)
        parent = os.path.dirname(path)
        if missing:
            result['changed'] = True
            if os.path.lexists(path):
                self.fail('directories: %s exists and is not a directory; remove it or plan another path.' % path)
            if self.module.check_mode:
                self.pending.add(path)
            else:
                try:
                    os.makedirs(path)
                except OSError as exc:
                    self.fail('directories: cannot create %s: %s. Run the task as a user that may write %s (become).'
                              % (path, exc.strerror, parent))
        if not (missing and self.module.check_mode):
            file_args = self.module.load_file_common_arguments(dict(
                attributes, seuser=None, serole=None, selevel=None, attributes=None, unsafe_writes=False))
            file_args['path'] = path
            result['changed'] = self.module.set_fs_attributes_if_different(file_args, result['changed'])
        result['diff'] = {'before': {'path': path, 'state': 'absent' if missing else 'directory'},
                          'after': {'path': path, 'state': 'directory'}}
        self.results.append(result)
