
# ---- appended by make docs from docs/sphinx_offline.py ------------------------------------------
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The build machines reach no documentation host, so no intersphinx inventory can be fetched.
# The few labels of the Ansible documentation that antsibull-docs' generated pages refer to
# become plain links to the published pages instead; any other unresolved reference still fails
# the build (sphinx-build -W).

import re  # noqa: E402 (appended to conf.py)

intersphinx_mapping = {}

ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'module_defaults': 'playbook_guide/playbooks_module_defaults.html',
    'playbooks_strategies': 'playbook_guide/playbooks_strategies.html',
}


# Plugins of ansible.builtin, and their options and return values, that option descriptions name
# (O(ansible.builtin.file#module:mode)): ansible_collections.ansible.builtin.NAME_TYPE[__KIND-KEY].
BUILTIN_LABEL = re.compile(r'^ansible_collections\.ansible\.builtin\.([a-z0-9_]+)_([a-z]+)(?:__([a-z]+)-([^:]+))?$')


def _ansible_uri(target):
    """The published page (and anchor) of a label of the Ansible documentation, or None."""
    if target in ANSIBLE_LABELS:
        return ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    found = BUILTIN_LABEL.match(target or '')
    if not found:
        return None
    name, plugin_type, kind, key = found.groups()
    page = '%scollections/ansible/builtin/%s_%s.html' % (ANSIBLE_DOCS, name, plugin_type)
    return page + ('#%s-%s' % (kind, key) if kind else '')


def _ansible_label(dummy_app, dummy_env, node, contnode):
    """Resolve a :ref: to a label of the Ansible documentation to a link to its page."""
    uri = _ansible_uri(node.get('reftarget'))
    if node.get('reftype') != 'ref' or uri is None:
        return None
    from docutils import nodes

    reference = nodes.reference('', '', internal=False, refuri=uri)
    reference += contnode
    return reference


def setup(app):
    app.connect('missing-reference', _ansible_label)


# Commands in tables must paste: no "--" turned into an en dash, no quotes turned curly.
smartquotes = False
# The search page shows an excerpt of each result only when the sources are copied into _sources.
html_copy_source = True
