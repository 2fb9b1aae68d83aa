# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built-site check (tests/docs/check_site.py) on small sites written here."""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, 'tests', 'docs', 'check_site.py')


@pytest.fixture(scope='module')
def site_check():
    spec = importlib.util.spec_from_file_location('check_site', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding='utf-8')


def good_site(root, site_check):
    """A site as make docs builds it: the index links every required page, each has its source."""
    links = ''.join('<a href="%s">x</a>' % page for page in site_check.REQUIRED_FROM_INDEX)
    write(root, 'index.html', '<html><body>%s<a href="qemu_image_module.html#p">m</a></body></html>' % links)
    for page in site_check.REQUIRED_FROM_INDEX + ('qemu_image_module.html',):
        back = '../index.html' if '/' in page else 'index.html'
        write(root, page, '<p>Run <code>cp --sparse=always</code> with <strong>force</strong>.</p>'
                          '<a href="%s">up</a><a href="https://example.org/">out</a>' % back)
    for page in site_check.REQUIRED_FROM_INDEX + ('qemu_image_module.html', 'index.html'):
        write(root, '_sources/' + page[:-len('.html')] + '.rst.txt', 'source')
    write(root, 'searchindex.js', 'Search.setIndex({})')
    write(root, 'search.html', '<p>search</p>')


def test_a_good_site_has_no_problems(tmp_path, site_check):
    good_site(tmp_path, site_check)
    assert site_check.check(str(tmp_path)) == []
    assert site_check.main([str(tmp_path)]) == 0


def test_an_en_dash_in_a_command_is_found(tmp_path, site_check):
    good_site(tmp_path, site_check)
    write(tmp_path, 'docsite/performance.html',
          '<table><tr><td>cp \u2013sparse=always</td></tr></table><a href="../index.html">up</a>')
    problems = site_check.check(str(tmp_path))
    assert len(problems) == 1
    assert 'docsite/performance.html' in problems[0] and '\u2013s' in problems[0]
    assert site_check.main([str(tmp_path)]) == 1


def test_a_dash_between_words_is_punctuation(tmp_path, site_check):
    good_site(tmp_path, site_check)
    write(tmp_path, 'docsite/safety.html', '<p>2015\u20132024, one \u2013 two</p><a href="../index.html">up</a>')
    assert site_check.check(str(tmp_path)) == []


def test_curly_quotes_in_literal_text_are_found(tmp_path, site_check):
    good_site(tmp_path, site_check)
    write(tmp_path, 'docsite/safety.html', '<pre>echo \u201chi\u201d</pre><p>\u201cfine\u201d</p><a href="../index.html">u</a>')
    problems = site_check.check(str(tmp_path))
    assert len(problems) == 2 and all('curly quote' in line for line in problems)


def test_literal_backticks_in_bold_are_found(tmp_path, site_check):
    good_site(tmp_path, site_check)
    write(tmp_path, 'docsite/safety.html', '<p><strong>``-U``</strong> is set</p><a href="../index.html">up</a>')
    problems = site_check.check(str(tmp_path))
    assert len(problems) == 1 and 'double backticks' in problems[0]


def test_an_orphan_page_is_found(tmp_path, site_check):
    good_site(tmp_path, site_check)
    write(tmp_path, 'environment_variables.html', '<p>No environment variables have been defined.</p>')
    write(tmp_path, '_sources/environment_variables.rst.txt', 'source')
    problems = site_check.check(str(tmp_path))
    assert problems == ['environment_variables.html: no page links to it (an orphan; list it in a toctree or do '
                        'not build it)']


def test_a_page_the_index_does_not_link_is_found(tmp_path, site_check):
    good_site(tmp_path, site_check)
    links = ''.join('<a href="%s">x</a>' % page for page in site_check.REQUIRED_FROM_INDEX if 'changelog' not in page)
    write(tmp_path, 'index.html', '<html><body>%s<a href="qemu_image_module.html">m</a></body></html>' % links)
    problems = site_check.check(str(tmp_path))
    assert 'index.html: does not link to changelog.html' in problems
    # the changelog page is now reached from nowhere either
    assert any(line.startswith('changelog.html: no page links to it') for line in problems)


def test_missing_sources_mean_no_search_excerpts(tmp_path, site_check):
    good_site(tmp_path, site_check)
    os.remove(tmp_path / '_sources' / 'docsite' / 'playbooks.rst.txt')
    os.remove(tmp_path / 'searchindex.js')
    problems = site_check.check(str(tmp_path))
    assert sorted(problems) == [
        'docsite/playbooks.html: no source in _sources/, search results show no excerpt (html_copy_source)',
        'searchindex.js: missing, the search finds nothing']


def test_a_site_not_built(tmp_path, site_check):
    assert site_check.check(str(tmp_path)) == ['%s: no index.html (make docs builds the site)' % tmp_path]
