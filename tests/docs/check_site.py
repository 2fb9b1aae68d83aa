# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the docs site that ``make docs`` built, as a reader would meet it.

python tests/docs/check_site.py HTML_DIR

Run by ``make docs-check`` (part of ``make test``). Each problem is printed
with the page it is on; the script exits 1 when there is any:

* every page is reachable from the index (no orphan, such as an empty index
  of environment variables), and the index links to the Requirements,
  Installation and Quick start pages, every guide, the Playbooks page and the changelog;
* the search finds excerpts: every page has its source under ``_sources/``
  and the search index exists;
* commands paste: no option turned into an en or em dash (``–sparse``) and no
  curly quotes in literal text;
* inline markup rendered: no literal double backticks in the text of a page.

Only the standard library is used.
"""

from __future__ import annotations

import html.parser
import os
import posixpath
import re
import sys

#: pages the index must link to (paths relative to the site)
REQUIRED_FROM_INDEX = ('docsite/requirements.html', 'docsite/installation.html', 'docsite/quick_start.html',
                       'docsite/provisioning.html', 'docsite/playbooks.html',
                       'docsite/safety.html', 'docsite/migrating.html', 'docsite/performance.html',
                       'changelog.html')
#: Sphinx's own pages, which no toctree lists
GENERATED = ('genindex.html', 'search.html', 'py-modindex.html')
#: a dash where a command's option began: "–sparse", "—force", " –v"
MANGLED_OPTION = re.compile('(?:^|[\\s(])[\u2013\u2014][A-Za-z]')
CURLY = re.compile('[\u2018\u2019\u201c\u201d]')


class Page(html.parser.HTMLParser):
    """The links, the literal text and the running text of one HTML page."""

    LITERAL = ('code', 'pre', 'kbd', 'samp', 'tt')
    SKIPPED = ('script', 'style')

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self.literal = []
        self.text = []
        self._literal_depth = 0
        self._skipped_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'a' and attrs.get('href'):
            self.links.append(attrs['href'])
        if tag in self.LITERAL:
            self._literal_depth += 1
        if tag in self.SKIPPED:
            self._skipped_depth += 1

    def handle_endtag(self, tag):
        if tag in self.LITERAL and self._literal_depth:
            self._literal_depth -= 1
        if tag in self.SKIPPED and self._skipped_depth:
            self._skipped_depth -= 1

    def handle_data(self, data):
        if self._skipped_depth:
            return
        (self.literal if self._literal_depth else self.text).append(data)


def read_page(path):
    page = Page()
    with open(path, encoding='utf-8') as handle:
        page.feed(handle.read())
    page.close()
    return page


def html_pages(html_dir):
    """Every HTML page of the site but Sphinx's static files, relative to ``html_dir``."""
    found = []
    for folder, dirs, files in os.walk(html_dir):
        dirs[:] = sorted(name for name in dirs if not name.startswith('_'))
        for name in sorted(files):
            if name.endswith('.html'):
                found.append(os.path.relpath(os.path.join(folder, name), html_dir).replace(os.sep, '/'))
    return found


def local_target(page, href):
    """The site path a link of ``page`` points to, or None for an outside link or an anchor of the page."""
    if re.match(r'^[a-z][a-z0-9+.-]*:', href) or href.startswith('//'):
        return None
    target = href.split('#', 1)[0].split('?', 1)[0]
    if not target:
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), target))


def check(html_dir):
    """The problems of the site in ``html_dir``, as lines to print."""
    problems = []
    if not os.path.isfile(os.path.join(html_dir, 'index.html')):
        return ['%s: no index.html (make docs builds the site)' % html_dir]
    pages = html_pages(html_dir)
    parsed = {name: read_page(os.path.join(html_dir, name)) for name in pages}

    links = {name: {target for target in (local_target(name, href) for href in page.links) if target}
             for name, page in parsed.items()}
    for wanted in REQUIRED_FROM_INDEX:
        if wanted not in parsed:
            problems.append('%s: not built' % wanted)
        elif wanted not in links['index.html']:
            problems.append('index.html: does not link to %s' % wanted)
    reached, todo = {'index.html'}, ['index.html']
    while todo:
        for target in links.get(todo.pop(), ()):
            if target in parsed and target not in reached:
                reached.add(target)
                todo.append(target)
    for name in pages:
        if name not in reached and name not in GENERATED:
            problems.append('%s: no page links to it (an orphan; list it in a toctree or do not build it)' % name)

    if not os.path.isfile(os.path.join(html_dir, 'searchindex.js')):
        problems.append('searchindex.js: missing, the search finds nothing')
    for name in pages:
        if name in GENERATED:
            continue
        source = os.path.join(html_dir, '_sources', name[:-len('.html')] + '.rst.txt')
        if not os.path.isfile(source) or not os.path.getsize(source):
            problems.append('%s: no source in _sources/, search results show no excerpt (html_copy_source)' % name)

    for name, page in sorted(parsed.items()):
        literal = ' '.join(page.literal)
        text = ' '.join(page.text)
        for match in sorted(set(MANGLED_OPTION.findall(literal + ' ' + text))):
            problems.append('%s: %r, a dash where a command\'s option begins (smartquotes): it does not paste'
                            % (name, match.strip()))
        for match in sorted(set(CURLY.findall(literal))):
            problems.append('%s: curly quote %r in literal text: it does not paste' % (name, match))
        if '``' in text:
            start = text.index('``')
            problems.append('%s: literal double backticks in the text (inline markup not rendered): %r'
                            % (name, text[max(0, start - 30):start + 30]))
    return problems


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    problems = check(os.path.abspath(argv[0]))
    for line in problems:
        print(line)
    if problems:
        print('%d problem(s) in the docs site' % len(problems))
        return 1
    print('docs site: %d pages, no problems' % len(html_pages(os.path.abspath(argv[0]))))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
