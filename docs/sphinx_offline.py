
# ---- appended by make docs from docs/sphinx_offline.py ------------------------------------------
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The build machines reach no documentation host, so no intersphinx inventory can be fetched.
# The few labels of the Ansible documentation that antsibull-docs' generated pages refer to
# become plain links to the published pages instead; any other unresolved reference still fails
# the build (sphinx-build -W).

intersphinx_mapping = {}

ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'module_defaults': 'playbook_guide/playbooks_module_defaults.html',
    'playbooks_strategies': 'playbook_guide/playbooks_strategies.html',
}


def _ansible_label(dummy_app, dummy_env, node, contnode):
    """Resolve a :ref: to a label of the Ansible documentation to a link to its page."""
    target = node.get('reftarget')
    if node.get('reftype') != 'ref' or target not in ANSIBLE_LABELS:
        return None
    from docutils import nodes

    reference = nodes.reference('', '', internal=False, refuri=ANSIBLE_DOCS + ANSIBLE_LABELS[target])
    reference += contnode
    return reference


def setup(app):
    app.connect('missing-reference', _ansible_label)


# Commands in tables must paste: no "--" turned into an en dash, no quotes turned curly.
smartquotes = False
# The search page shows an excerpt of each result only when the sources are copied into _sources.
html_copy_source = True
