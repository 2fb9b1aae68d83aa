# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Screenshots of the built docs site with headless Chromium, to look at before a release.

python tests/docs/screenshots.py HTML_DIR OUT_DIR [PAGE ...]

Takes a full-page PNG of the index, one module page, every guide (the
pages under docsite/) and the changelog of the site that ``make docs`` built in HTML_DIR, or of
the PAGEs named (paths relative to HTML_DIR), into OUT_DIR, at a window
1280 pixels wide. Chromium runs headless and is driven over its DevTools
pipe (``--remote-debugging-pipe``), so nothing but the standard library and
the ``chromium`` package is needed.

While a page is open it also measures what a reader would trip over in its
tables: a table wider than the text column (it scrolls sideways), and a word
of a table cell broken across two lines. Each is printed; the script exits 1
when the index or a guide has any (after writing every screenshot), and only
notes those of the plugin pages, which antsibull-docs lays out.

Environment: CHROMIUM (the browser, default ``chromium``), SCREENSHOT_WIDTH
(default 1280).
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

MODULE_PAGE = 'image_convert_module.html'
MAX_HEIGHT = 30000
TIMEOUT = 60

# What the screenshots should not show: tables that scroll sideways, and words of table cells broken
# across lines (a word whose characters lie on more than one line box).
MEASURE = r"""
(() => {
  const found = [];
  document.querySelectorAll('table.docutils').forEach((table, index) => {
    const box = table.parentElement;
    const column = box.classList.contains('wy-table-responsive') ? box : table.closest('[role=main]') || box;
    if (table.scrollWidth > column.clientWidth + 1) {
      found.push('table ' + (index + 1) + ' is ' + table.scrollWidth + ' px wide in a column of ' +
                 column.clientWidth + ' px (first cell: ' + JSON.stringify(table.rows[0].cells[0].innerText.trim()) + ')');
    }
    const walker = document.createTreeWalker(table, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.nodeValue;
      const words = /[^\s]+/g;
      for (let match = words.exec(text); match; match = words.exec(text)) {
        if (match[0].length < 2) continue;
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size < 2) continue;
        // Where the word goes on to the next line; after the hyphen of a compound ("id-map") is fine.
        const word = match[0];
        let previous = null;
        let bad = false;
        for (let at = 0; at < word.length; at++) {
          range.setStart(node, match.index + at);
          range.setEnd(node, match.index + at + 1);
          const rect = range.getBoundingClientRect();
          if (previous !== null && Math.round(rect.top) > previous + 1 &&
              !(word[at - 1] === '-' && at > 1 && /[A-Za-z0-9]/.test(word[at - 2]))) {
            bad = true;
          }
          previous = Math.round(rect.top);
        }
        if (bad) {
          found.push('table ' + (index + 1) + ': ' + JSON.stringify(word) + ' is broken across ' + tops.size + ' lines');
        }
      }
    }
  });
  return found;
})()
"""


class Browser:
    """Headless Chromium driven over the DevTools pipe (fd 3 in, fd 4 out, messages ending in NUL)."""

    def __init__(self, binary, width):
        self.profile = tempfile.mkdtemp(prefix='hvimg-chromium-')
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        os.set_inheritable(to_browser_read, True)
        os.set_inheritable(from_browser_write, True)

        def pipes():
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        argv = [binary, '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--mute-audio',
                '--user-data-dir=' + self.profile, 'about:blank']
        self.proc = subprocess.Popen(argv, preexec_fn=pipes, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b''
        self.next_id = 0
        self.events = []
        target = self.call('Target.createTarget', url='about:blank')['targetId']
        self.session = self.call('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        self.call('Page.enable', session=True)
        self.call('Emulation.setDeviceMetricsOverride', session=True, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.width = width

    def _read(self, deadline):
        while b'\0' not in self.buffer:
            if time.monotonic() > deadline:
                raise RuntimeError('Chromium did not answer within %d s' % TIMEOUT)
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError('Chromium exited (rc %s)' % self.proc.poll())
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b'\0', 1)
        return json.loads(message)

    def call(self, method, session=False, **params):
        """Send one DevTools command and return its result; events that arrive meanwhile are kept."""
        self.next_id += 1
        message = {'id': self.next_id, 'method': method, 'params': params}
        if session:
            message['sessionId'] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b'\0')
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._read(deadline)
            if answer.get('id') == self.next_id:
                if 'error' in answer:
                    raise RuntimeError('%s: %s' % (method, answer['error'].get('message')))
                return answer.get('result', {})
            self.events.append(answer)

    def wait_for(self, event):
        deadline = time.monotonic() + TIMEOUT
        while True:
            for index, message in enumerate(self.events):
                if message.get('method') == event:
                    del self.events[:index + 1]
                    return message
            self.events = []
            self.events.append(self._read(deadline))

    def shoot(self, url, dest):
        """Open ``url``, save a full-page PNG to ``dest``; return what MEASURE found."""
        self.events = []
        self.call('Page.navigate', session=True, url=url)
        self.wait_for('Page.loadEventFired')
        found = self.call('Runtime.evaluate', session=True, expression=MEASURE, returnByValue=True)
        size = self.call('Page.getLayoutMetrics', session=True)['cssContentSize']
        width, height = max(self.width, int(size['width'])), min(MAX_HEIGHT, int(size['height']))
        shot = self.call('Page.captureScreenshot', session=True, format='png', captureBeyondViewport=True,
                         clip={'x': 0, 'y': 0, 'width': width, 'height': height, 'scale': 1})
        with open(dest + '.tmp', 'wb') as handle:
            handle.write(base64.b64decode(shot['data']))
        os.rename(dest + '.tmp', dest)
        return found['result'].get('value') or [], height

    def close(self):
        try:
            self.call('Browser.close')
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


def pages(html_dir):
    """The index, one module page, every guide and the changelog, as paths relative to ``html_dir``."""
    guides = sorted(os.path.relpath(path, html_dir) for path in glob.glob(os.path.join(html_dir, 'docsite', '*.html')))
    extra = [page for page in ('changelog.html',) if os.path.isfile(os.path.join(html_dir, page))]
    return ['index.html', MODULE_PAGE] + guides + extra


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    html_dir, out_dir = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    wanted = argv[2:] or pages(html_dir)
    missing = [page for page in wanted if not os.path.isfile(os.path.join(html_dir, page))]
    if missing:
        sys.exit('Not in %s: %s (make docs builds the site)' % (html_dir, ', '.join(missing)))
    binary = shutil.which(os.environ.get('CHROMIUM', 'chromium'))
    if not binary:
        sys.exit('No Chromium: install the Debian package chromium (make screenshots does).')
    os.makedirs(out_dir, exist_ok=True)
    problems = []
    browser = Browser(binary, int(os.environ.get('SCREENSHOT_WIDTH', '1280')))
    try:
        for page in wanted:
            dest = os.path.join(out_dir, page.replace(os.sep, '_').replace('.html', '.png'))
            found, height = browser.shoot('file://' + os.path.join(html_dir, page), dest)
            print('%s (%d px high)' % (dest, height))
            problems.extend('%s: %s' % (page, problem) for problem in found)
    finally:
        browser.close()
    # The plugin pages are laid out by antsibull-docs: what they show is noted, what the guides and the
    # index show fails.
    failing = [problem for problem in problems if problem.startswith(('index.html:', 'docsite/'))]
    for problem in problems:
        print('%s: %s' % ('TABLE' if problem in failing else 'note', problem))
    return 1 if failing else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
