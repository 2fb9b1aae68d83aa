# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every option a guide names exists in its module's argument spec.

python tests/docs/check_guide_options.py [FILE ...]

Reads the YAML examples of the guides (``.. code-block:: yaml`` in
docs/docsite/rst/*.rst, fenced ``yaml`` blocks in README.md) and the
playbooks and role tasks as they are, finds every task of a module of this
collection (``hypervisor.images.NAME:``) and checks its option names against
the argument spec that module really builds (its ``main()`` is run up to the
``AnsibleModule`` call, so aliases and the file attributes count). The
entries of ``hypervisor.images.image_plan``'s ``images`` are checked against
the spec of the module each one names. Prints ``FILE:LINE: MODULE: ...`` for
each unknown option, unknown module or example that does not parse, and
exits 1 if there is any. With FILEs, checks those instead.

The unit test tests/unit/docs/test_check_guide_options.py runs it on the
collection (make units, make test) and on fixtures with misspelled options.
"""

from __future__ import annotations

import glob
import importlib
import os
import re
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIX = 'hypervisor.images.'
PLAN = 'image_plan'
FENCE = re.compile(r'^(\s*)```\s*(yaml|yml)\s*$')
DIRECTIVE = re.compile(r'^(\s*)\.\. code-block::\s*(yaml|yml|yaml\+jinja)\s*$', re.IGNORECASE)


def default_files(root=ROOT):
    """The guides, the README, the playbooks and the role's tasks, relative to ``root``."""
    patterns = ('docs/docsite/rst/*.rst', 'README.md', 'playbooks/*.yml', 'roles/*/tasks/*.yml')
    return sorted(os.path.relpath(path, root) for pattern in patterns for path in glob.glob(os.path.join(root, pattern)))


# -- the YAML of a file -------------------------------------------------------------------------

def rst_blocks(lines):
    """(first line number, text) of every YAML code block of reStructuredText ``lines``."""
    index = 0
    while index < len(lines):
        found = DIRECTIVE.match(lines[index])
        index += 1
        if not found:
            continue
        indent = len(found.group(1))
        while index < len(lines) and lines[index].strip() and lines[index].lstrip().startswith(':'):
            index += 1  # directive options (:caption:, :emphasize-lines:)
        body = []
        start = None
        while index < len(lines):
            line = lines[index]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if start is None and line.strip():
                start = index
            if start is not None:
                body.append(line)
            index += 1
        if start is not None:
            while body and not body[-1].strip():
                body.pop()
            depth = min(len(line) - len(line.lstrip()) for line in body if line.strip())
            yield start + 1, '\n'.join(line[depth:] for line in body) + '\n'


def markdown_blocks(lines):
    """(first line number, text) of every fenced YAML block of Markdown ``lines``."""
    index = 0
    while index < len(lines):
        found = FENCE.match(lines[index])
        index += 1
        if not found:
            continue
        start = index
        while index < len(lines) and not lines[index].strip().startswith('```'):
            index += 1
        yield start + 1, '\n'.join(lines[start:index]) + '\n'
        index += 1


def yaml_blocks(path, text):
    """(first line number, YAML text) of what ``path`` holds: its code blocks, or itself for a YAML file."""
    lines = text.splitlines()
    if path.endswith('.rst'):
        return list(rst_blocks(lines))
    if path.endswith('.md'):
        return list(markdown_blocks(lines))
    return [(1, text)]


# -- the options of the modules -----------------------------------------------------------------

class _Captured(Exception):
    def __init__(self, kwargs):
        super().__init__('captured')
        self.kwargs = kwargs


def _importable():
    """Make ``ansible_collections.hypervisor.images`` importable, from a staged copy or from a checkout."""
    try:
        importlib.import_module('ansible_collections.hypervisor.images.plugins')
        return
    except ImportError:
        pass
    parts = ROOT.split(os.sep)
    if parts[-3:] == ['ansible_collections', 'hypervisor', 'images']:
        base = os.sep.join(parts[:-3]) or os.sep
    else:
        base = tempfile.mkdtemp(prefix='hvimg-docs-')
        os.makedirs(os.path.join(base, 'ansible_collections', 'hypervisor'))
        os.symlink(ROOT, os.path.join(base, 'ansible_collections', 'hypervisor', 'images'))
    sys.path.insert(0, base)
    for name in [name for name in sys.modules if name == 'ansible_collections' or name.startswith('ansible_collections.')]:
        del sys.modules[name]


def _names(spec):
    """Option names and aliases of an argument spec, and the specs of suboptions by name."""
    names, suboptions = set(), {}
    for name, option in spec.items():
        names.add(name)
        names.update(option.get('aliases') or ())
        if option.get('options'):
            for alias in [name] + list(option.get('aliases') or ()):
                suboptions[alias] = option['options']
    return names, suboptions


class Specs:
    """The argument spec each module of the collection builds, read by running its main() up to AnsibleModule."""

    def __init__(self):
        _importable()
        self.cache = {}

    def modules(self):
        return sorted(os.path.splitext(os.path.basename(path))[0]
                      for path in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py'))
                      if not os.path.basename(path).startswith('_'))

    def spec(self, name):
        """(names, suboptions) of module ``name``, or None when there is no such module."""
        if name in self.cache:
            return self.cache[name]
        if name not in self.modules():
            self.cache[name] = None
            return None
        from ansible.module_utils import basic

        module = importlib.import_module('ansible_collections.hypervisor.images.plugins.modules.%s' % name)
        real = basic.AnsibleModule.__init__

        def capture(dummy_self, *args, **kwargs):
            raise _Captured(dict(zip(('argument_spec',), args), **kwargs))

        # Subclasses of AnsibleModule (image_fetch's) are caught too.
        basic.AnsibleModule.__init__ = capture
        kwargs = None
        try:
            module.main()
        except _Captured as captured:
            kwargs = captured.kwargs
        finally:
            basic.AnsibleModule.__init__ = real
        if kwargs is None:
            raise RuntimeError('%s: main() did not build an AnsibleModule' % name)
        spec = dict(kwargs['argument_spec'])
        if kwargs.get('add_file_common_args'):
            for key, value in basic.FILE_COMMON_ARGUMENTS.items():
                spec.setdefault(key, value)
        self.cache[name] = _names(spec)
        return self.cache[name]

    def other_names(self):
        """What else the collection's names are: its roles, its playbooks and the action group."""
        roles = [os.path.basename(path) for path in glob.glob(os.path.join(ROOT, 'roles', '*'))]
        playbooks = [os.path.splitext(os.path.basename(path))[0] for path in glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))]
        return set(roles + playbooks + ['images'])

    def plan_kinds(self):
        from ansible_collections.hypervisor.images.plugins.module_utils import _plan

        return sorted(_plan.KINDS)


# -- walking the examples -------------------------------------------------------------------------

def _scalar(node):
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _keys(node):
    """(name, line) of the keys of a mapping node, or of the key=value words of a scalar (free-form arguments)."""
    if isinstance(node, yaml.MappingNode):
        return [(_scalar(key), key.start_mark.line) for key, _value in node.value if _scalar(key) is not None]
    if isinstance(node, yaml.ScalarNode) and '=' in (node.value or ''):
        return [(word.split('=', 1)[0], node.start_mark.line) for word in node.value.split()
                if re.match(r'^\w+=', word)]
    return []


class Checker:
    def __init__(self, specs=None):
        self.specs = specs or Specs()
        self.problems = []

    def problem(self, where, line, text):
        self.problems.append('%s:%d: %s' % (where, line, text))

    def check_options(self, where, offset, module, node, names, suboptions, label):
        for key, line in _keys(node):
            if key not in names:
                self.problem(where, offset + line, '%s: unknown option %r (it takes: %s)'
                             % (label, key, ', '.join(sorted(names))))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = _scalar(key)
                if name in suboptions:
                    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
                    sub_names, sub_suboptions = _names(suboptions[name])
                    for item in items:
                        self.check_options(where, offset, module, item, sub_names, sub_suboptions,
                                           '%s: %s' % (label, name))
                elif module == PLAN and name == 'images' and isinstance(value, yaml.SequenceNode):
                    self.check_plan(where, offset, value)

    def check_plan(self, where, offset, images):
        kinds = self.specs.plan_kinds()
        for entry in images.value:
            if not isinstance(entry, yaml.MappingNode) or len(entry.value) != 1:
                continue  # a template, or an error image_plan reports itself
            key, value = entry.value[0]
            kind = (_scalar(key) or '').rpartition('.')[2]
            if kind not in kinds:
                self.problem(where, offset + key.start_mark.line, '%s%s: images entry runs %r, which a plan cannot run '
                             '(it runs: %s)' % (PREFIX, PLAN, _scalar(key), ', '.join(kinds)))
                continue
            names, suboptions = self.specs.spec(kind)
            self.check_options(where, offset, kind, value, names, suboptions,
                               '%s%s: images entry %s' % (PREFIX, PLAN, kind))

    def walk(self, where, offset, node):
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.walk(where, offset, item)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = _scalar(key) or ''
                if name.startswith(PREFIX) and name.count('.') == 2:
                    module = name[len(PREFIX):]
                    found = self.specs.spec(module)
                    if found is None:
                        if module not in self.specs.other_names():
                            self.problem(where, offset + key.start_mark.line, '%s: no such module' % name)
                        continue
                    self.check_options(where, offset, module, value, found[0], found[1], name)
                else:
                    self.walk(where, offset, value)

    def check_text(self, where, text):
        for first, block in yaml_blocks(where, text):
            try:
                documents = list(yaml.compose_all(block, Loader=yaml.SafeLoader))
            except yaml.YAMLError as exc:
                mark = getattr(exc, 'problem_mark', None)
                self.problem(where, first + (mark.line if mark else 0), 'this YAML example does not parse: %s'
                             % str(exc).splitlines()[0])
                continue
            for document in documents:
                if document is not None:
                    self.walk(where, first, document)

    def check_file(self, path, root=ROOT):
        full = path if os.path.isabs(path) else os.path.join(root, path)
        with open(full, encoding='utf-8') as handle:
            self.check_text(os.path.relpath(full, root) if full.startswith(root + os.sep) else path, handle.read())


def main(argv):
    checker = Checker()
    files = argv or default_files()
    for path in files:
        checker.check_file(path)
    for problem in checker.problems:
        print(problem)
    if checker.problems:
        print('%d unknown option(s) or unreadable example(s) in %d file(s)' % (len(checker.problems), len(files)))
        return 1
    print('Every option of the examples in %d file(s) exists.' % len(files))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
