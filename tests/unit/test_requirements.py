# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bindep.txt and meta/execution-environment.yml say what the modules need on the managed node.

The tools are read from the code: every ``find_tool(NAME, PACKAGE)``,
``tools.path(NAME, PACKAGE)`` and ``self.tool(tools, NAME)`` call and the
``mkfs_tool`` and ``retune_tool`` of every file system type. The comment after
each package line of bindep.txt lists the tools it provides. bindep itself
decides which lines a platform and a set of profiles select, and
ansible-builder's own introspection reads the collection as an execution
environment build would. Neither needs the network; both are skipped where they
are not installed (the ansible-core matrix venvs).
"""

from __future__ import annotations

import ast
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.registry import TYPES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINDEP = os.path.join(ROOT, 'bindep.txt')
EE_META = os.path.join(ROOT, 'meta', 'execution-environment.yml')
GUIDE = os.path.join(ROOT, 'docs', 'docsite', 'rst', 'requirements.rst')

# The platform profiles bindep gives Debian 12 and Fedora (bindep --profiles there).
DEBIAN = ('platform:dpkg', 'platform:debian', 'platform:debian-12', 'platform:base-py3')
FEDORA = ('platform:rpm', 'platform:redhat', 'platform:fedora', 'platform:base-py3')
PLATFORMS = {'debian': DEBIAN, 'fedora': FEDORA}
# Tools bindep.txt names that no module runs: Ansible's become needs setfacl (profile become).
ANSIBLE_TOOLS = {'setfacl': 'become'}

RULE = re.compile(r'^(?P<rule>(?P<package>[^\s#\[]+)(?:\s+\[(?P<selector>[^\]]*)\])?)\s*(?:#\s*(?P<tools>.*))?$')
WORD = re.compile(r'[A-Za-z0-9][A-Za-z0-9.+_-]*')


# -- the code -------------------------------------------------------------------

def _constants(tree):
    """Module-level ``NAME = 'string'`` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _string(node, constants):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _is_tools(node):
    return (isinstance(node, ast.Name) and node.id == 'tools') or (
        isinstance(node, ast.Attribute) and node.attr == 'tools')


def _lookup(call):
    """``(name node, package node or None)`` when ``call`` looks a tool up, else None."""
    func, args = call.func, call.args
    if len(args) != 2:
        return None
    if isinstance(func, ast.Name) and func.id == 'find_tool':
        return args[0], args[1]
    if isinstance(func, ast.Attribute) and func.attr == 'path' and _is_tools(func.value):
        return args[0], args[1]
    if isinstance(func, ast.Attribute) and func.attr == 'tool':
        return args[1], None  # self.tool(tools, NAME): the package is the file system type's
    return None


def _class_tools(node):
    """The string values of ``mkfs_tool = ...`` and ``retune_tool = ...`` in a class body."""
    for item in node.body:
        if not isinstance(item, ast.Assign) or not isinstance(item.value, ast.Constant):
            continue
        if any(isinstance(target, ast.Name) and target.id in ('mkfs_tool', 'retune_tool') for target in item.targets):
            if isinstance(item.value.value, str):
                yield item.value.value


def tools_in(path):
    """``{tool: package hint or None}`` of every tool the file looks up by a literal name."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    constants = _constants(tree)
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _lookup(node):
            name, package = _lookup(node)
            if _string(name, constants):
                found[_string(name, constants)] = None if package is None else _string(package, constants)
        elif isinstance(node, ast.ClassDef):
            found.update((tool, None) for tool in _class_tools(node))
    return found


def _type_file(fs):
    return os.path.splitext(sys.modules[type(fs).__module__].__file__)[0] + '.py'


FS_FILES = {os.path.realpath(_type_file(fs)) for fs in TYPES.values()}
PLUGIN_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', '**', '*.py'), recursive=True))


def core_tools():
    """Tools looked up outside the file system types' own files: qemu-img, the probes, losetup."""
    found = {}
    for path in PLUGIN_FILES:
        if os.path.realpath(path) not in FS_FILES:
            found.update(tools_in(path))
    return found


def type_tools(fs):
    """The tools of one file system type: those its file names, and its mkfs and retune tools."""
    found = set(tools_in(_type_file(fs)))
    found.update(tool for tool in (fs.mkfs_tool, fs.retune_tool) if tool)
    return found


# -- bindep.txt ---------------------------------------------------------------------

def bindep_lines():
    """``[(rule, package, tools)]`` for every package line, in order; ``rule`` is the line without its comment."""
    lines = []
    with open(BINDEP, encoding='utf-8') as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            match = RULE.match(line)
            assert match, 'bindep.txt: cannot read %r' % line
            lines.append((match.group('rule'), match.group('package'), set((match.group('tools') or '').split())))
    return lines


def _key(package, selector):
    return package, tuple(sorted(selector))


def active_lines(parsed, platform, profiles=('default',)):
    """The lines of :func:`bindep_lines` that bindep selects for ``platform`` and ``profiles``."""
    active = {_key(rule[0], [('' if sense else '!') + name for sense, name in rule[1]])
              for rule in parsed.active_rules(list(platform) + list(profiles))}
    return [line for line in bindep_lines() if _key(line[1], (RULE.match(line[0]).group('selector') or '').split())
            in active]


def provided(parsed, platform, profiles=('default',)):
    """``{tool: {packages}}`` of the lines bindep selects for ``platform`` and ``profiles``."""
    found = {}
    for _rule, package, tools in active_lines(parsed, platform, profiles):
        for tool in tools:
            found.setdefault(tool, set()).add(package)
    return found


@pytest.fixture(scope='module')
def depends():
    """bindep.txt as bindep parses it (parsing takes bindep about a second: once per module)."""
    depends_class = pytest.importorskip('bindep.depends').Depends
    with open(BINDEP, encoding='utf-8') as handle:
        return depends_class(handle.read(), BINDEP)


# -- tests --------------------------------------------------------------------------

def test_the_code_scan_finds_the_tools():
    core = core_tools()
    assert {'qemu-img', 'blkid', 'wipefs', 'losetup'} <= set(core)
    for fs in TYPES.values():
        assert fs.mkfs_tool in type_tools(fs)


def test_bindep_parses(depends):
    rules = depends.active_rules(list(DEBIAN) + ['default'])
    assert [rule[0] for rule in rules] == ['qemu-utils', 'util-linux', 'mount']
    assert len(active_lines(depends, DEBIAN, list(TYPES) + ['become'])) == len(rules) + 10


def test_bindep_parses_on_this_host():
    pytest.importorskip('bindep')
    proc = subprocess.run([sys.executable, '-m', 'bindep', '--file', BINDEP, '--profiles'], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'Configuration profiles:' in proc.stdout


def test_bindep_names_exactly_the_tools_of_the_code():
    named = set().union(*(tools for _rule, _package, tools in bindep_lines()))
    code = set(core_tools()).union(*(type_tools(fs) for fs in TYPES.values()))
    assert named - set(ANSIBLE_TOOLS) == code, 'bindep.txt comments name tools the code does not run, or miss some'


@pytest.mark.parametrize('platform', sorted(PLATFORMS))
def test_the_default_profile_has_every_tool_outside_mkfs_types(depends, platform):
    found = provided(depends, PLATFORMS[platform])
    missing = sorted(set(core_tools()) - set(found))
    assert not missing, 'bindep.txt without a profile lacks %s on %s' % (missing, platform)


@pytest.mark.parametrize('platform', sorted(PLATFORMS))
@pytest.mark.parametrize('fstype', sorted(TYPES))
def test_each_type_has_its_tools_under_its_profile(depends, platform, fstype):
    fs = TYPES[fstype]
    found = provided(depends, PLATFORMS[platform], ('default', fstype))
    missing = sorted(type_tools(fs) - set(found))
    assert not missing, 'bindep.txt with the profile %s lacks %s on %s' % (fstype, missing, platform)


@pytest.mark.parametrize('platform', sorted(PLATFORMS))
def test_the_default_profile_holds_only_what_every_use_needs(depends, platform):
    """An execution environment gets no package that only one file system type of mkfs needs."""
    core = set(core_tools())
    for _rule, package, tools in active_lines(depends, PLATFORMS[platform]):
        assert tools & core, '%s is in the default profile on %s; put it behind a profile' % (package, platform)


def test_the_packages_the_code_names_are_those_of_bindep(depends):
    """What a missing tool's error message says to install is what bindep.txt lists for it."""
    everything = list(TYPES) + sorted(set(ANSIBLE_TOOLS.values()))
    debian = provided(depends, DEBIAN, everything)
    fedora = provided(depends, FEDORA, everything)
    for tool, hint in core_tools().items():
        for packages in (debian.get(tool, set()), fedora.get(tool, set())):
            assert packages and packages <= set(WORD.findall(hint or '')), '%s: the code says %r, bindep.txt %s' % (
                tool, hint, sorted(packages))
    # The file system types name the Debian package (mkfs's error messages say "Install the package ...").
    for fs in TYPES.values():
        for tool in type_tools(fs):
            assert debian.get(tool) == {fs.package}, '%s (%s): the code says %s, bindep.txt %s' % (
                tool, fs.name, fs.package, sorted(debian.get(tool, ())))


def test_the_debian_packages_own_the_tools_installed_here(depends):
    """On a Debian or Ubuntu host, dpkg says which package each installed tool comes from."""
    if not shutil.which('dpkg-query'):
        pytest.skip('not a dpkg host')
    debian = provided(depends, DEBIAN, list(TYPES) + sorted(set(ANSIBLE_TOOLS.values())))
    dirs = ('/usr/sbin', '/usr/bin', '/sbin', '/bin')
    found = {tool: shutil.which(tool, path=os.pathsep.join(dirs)) for tool in debian}
    found = {tool: path for tool, path in found.items() if path}
    if not found:
        pytest.skip('none of the tools is installed here')
    candidates = sorted({os.path.join(d, tool) for tool in found for d in dirs}
                        | {os.path.realpath(path) for path in found.values()})
    proc = subprocess.run(['dpkg-query', '--search'] + candidates, capture_output=True, text=True, check=False,
                          env=dict(os.environ, LC_ALL='C'))
    owners = {}
    for line in proc.stdout.splitlines():
        if line.startswith('diversion ') or ': ' not in line:
            continue
        packages, path = line.split(': ', 1)
        owners.setdefault(os.path.basename(path), set()).update(
            package.strip().split(':')[0] for package in packages.split(','))
    for tool in found:
        assert owners.get(tool, set()) & debian[tool], '%s: dpkg says %s, bindep.txt %s' % (
            tool, sorted(owners.get(tool, ())), sorted(debian[tool]))


def test_ansible_tools_are_behind_their_profile(depends):
    for tool, profile in ANSIBLE_TOOLS.items():
        for platform in PLATFORMS.values():
            assert tool not in provided(depends, platform)
            assert tool in provided(depends, platform, ('default', profile))


def test_execution_environment_metadata():
    with open(EE_META, encoding='utf-8') as handle:
        meta = yaml.safe_load(handle)
    # No Python requirements: the modules use only the standard library and ansible.module_utils.
    assert meta == {'version': 1, 'dependencies': {'system': 'bindep.txt'}}
    assert os.path.isfile(os.path.join(ROOT, meta['dependencies']['system']))
    schema = pytest.importorskip('ansible_builder.ee_schema')
    schema.validate_schema(meta)


def test_the_plugins_import_nothing_outside_the_standard_library():
    """So the collection has no Python requirements (meta/execution-environment.yml names none)."""
    stdlib = sys.stdlib_module_names
    for path in PLUGIN_FILES:
        with open(path, encoding='utf-8') as handle:
            tree = ast.parse(handle.read(), filename=path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                assert top in stdlib or top in ('ansible', 'ansible_collections'), '%s imports %s' % (path, name)


def test_ansible_builder_introspection(tmp_path):
    """ansible-builder reads bindep.txt as shipped (every line, comments stripped) and no Python requirements."""
    pytest.importorskip('ansible_builder')
    namespace = tmp_path / 'ansible_collections' / 'hypervisor'
    namespace.mkdir(parents=True)
    (namespace / 'images').symlink_to(ROOT)
    proc = subprocess.run([sys.executable, '-m', 'ansible_builder', 'introspect', '--sanitize', str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(proc.stdout[proc.stdout.index('---'):])
    assert data['python'] == []
    assert data['system'] == ['%s  # from collection hypervisor.images' % rule for rule, _p, _t in bindep_lines()]


def test_an_execution_environment_gets_qemu_img_and_util_linux(depends):
    """What ansible-builder installs: bindep's default profile on the RPM-based image it builds on."""
    rules = depends.active_rules(list(FEDORA) + ['default'])
    assert [rule[0] for rule in rules] == ['qemu-img', 'util-linux']


# -- the requirements page ------------------------------------------------------------

def yaml_blocks(path):
    """The YAML code blocks of an RST file, parsed."""
    with open(path, encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if line.strip() != '.. code-block:: yaml':
            continue
        body = []
        for following in lines[index + 1:]:
            if following.strip() and not following.startswith('   '):
                break
            body.append(following[3:])
        blocks.append(yaml.safe_load('\n'.join(body)))
    return blocks


def test_the_guide_names_every_package():
    with open(GUIDE, encoding='utf-8') as handle:
        guide = handle.read()
    missing = [package for _rule, package, _tools in bindep_lines() if '``%s``' % package not in guide]
    assert not missing, 'docs/docsite/rst/requirements.rst does not name %s' % ', '.join(missing)


def test_the_guides_execution_environment_definitions_are_valid():
    schema = pytest.importorskip('ansible_builder.ee_schema')
    definitions = [block for block in yaml_blocks(GUIDE) if isinstance(block, dict) and 'version' in block]
    assert len(definitions) == 2
    for definition in definitions:
        schema.validate_schema(definition)
