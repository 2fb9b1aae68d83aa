# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make changelog: fold every fragment into the release galaxy.yml names; write CHANGELOG.rst.

Usage: changelog.py STAGED_COLLECTION CHECKOUT

Runs ``antsibull-changelog release`` in the staged copy (where ansible-doc
finds the collection's plugins) for the version of galaxy.yml, updating that
release when it exists already, and copies changelogs/changelog.yaml and
CHANGELOG.rst back into the checkout. The config keeps the fragments
(``keep_fragments: true``), so a release that is not out yet can take later
fragments: each run adds the fragments it has not seen and refreshes those it
has. The release date stays the one recorded unless RELEASE_DATE (YYYY-MM-DD)
is set; a new release gets today's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import yaml

OUTPUTS = (os.path.join('changelogs', 'changelog.yaml'), 'CHANGELOG.rst')


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    staged, checkout = (os.path.abspath(arg) for arg in sys.argv[1:])
    with open(os.path.join(staged, 'galaxy.yml'), encoding='utf-8') as handle:
        version = yaml.safe_load(handle)['version']
    with open(os.path.join(staged, 'changelogs', 'changelog.yaml'), encoding='utf-8') as handle:
        releases = (yaml.safe_load(handle) or {}).get('releases') or {}
    date = os.environ.get('RELEASE_DATE') or releases.get(version, {}).get('release_date')
    argv = [os.path.join(os.path.dirname(sys.executable), 'antsibull-changelog'), 'release', '--version', version,
            '--update-existing', '--refresh-fragments', 'without-archives', '--reload-plugins']
    if date:
        argv += ['--date', str(date)]
    subprocess.run(argv, cwd=staged, check=True)
    for name in OUTPUTS:
        shutil.copyfile(os.path.join(staged, name), os.path.join(checkout, name))
        print('Wrote %s' % os.path.join(checkout, name))


if __name__ == '__main__':
    main()
