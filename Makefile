# hypervisor.images: set-up, tests and demo.
#
#   make demo   run playbooks/demo.yml on localhost (builds its own small images)
#   make test   install what is missing, then lint, sanity, docs lint, sanity and
#               unit tests on the other ansible-core versions, the release check,
#               unit, integration and molecule tests; stops at the first failure
#   make docs   build the documentation site into .build/docs/build/html
#   make screenshots  the docs site's index, a module page and every guide as PNGs (before a release)
#   make bench  run the benchmarks and write docs/docsite/rst/performance.rst
#
# They install the Debian packages they need (as root, with apt-get) and a
# pinned Python virtual environment in .venv on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= /usr/bin/python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD ?= $(CURDIR)/.build
COLLECTION := $(BUILD)/ansible_collections/hypervisor/images
ANSIBLE_TEST_PYTHON := 3.11

# Ansible's interpreter discovery can pick a broken pyenv shim; name the interpreter.
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Podman settings for the molecule scenarios (runc, ulimits); nothing global is changed.
export CONTAINERS_CONF := $(CURDIR)/tests/setup/containers.conf

# The other ansible-core versions that sanity and unit tests run on (see "ansible-core versions" below).
CORES := 2.16 2.21

.PHONY: help demo test deps system-deps venv stage test-image lint sanity docs-lint pytest units integration \
	docs docs-check screenshots matrix release-check changelog bench bench-report clean

help:
	@echo "make demo   run the demo playbook on localhost"
	@echo "make test   run every check and test (lint, sanity, docs, ansible-core matrix, release, unit,"
	@echo "            integration, molecule)"
	@echo "make docs   build the documentation site (.build/docs/build/html)"
	@echo "make screenshots  PNGs of the docs site's index, a module page and each guide (.build/screenshots)"
	@echo "make bench  run the benchmarks and write the performance page (BENCH=\"name ...\" for some)"
	@echo "helpers:    deps lint sanity docs-lint docs-check matrix $(addprefix matrix-,$(CORES)) release-check units"
	@echo "            integration changelog bench-report clean"

# --- set-up -------------------------------------------------------------

system-deps:
	@PYTHON=$(PYTHON) tests/setup/system-deps.sh

$(VENV)/.installed: requirements-dev.txt | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned Python tools into .venv"
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location .file:" || true; }
	@$(BIN)/python -m pip install --quiet --requirement requirements-dev.txt 2>&1 | { grep -v "^WARNING: Location .file:" || true; }
	@touch $@

venv: $(VENV)/.installed

# ansible-test's pip bootstrap script lives under ~/.ansible, outside the venv.
deps: system-deps venv
	@$(BIN)/python tests/setup/install-pip-bootstrap.py

stage: deps
	@$(BIN)/python tests/setup/stage.py $(CURDIR) $(BUILD) >/dev/null

# The container image of the molecule scenarios, built once and kept by podman.
test-image: system-deps
	@tests/setup/build-test-image.sh

# --- user-facing --------------------------------------------------------

demo: stage
	cd $(COLLECTION) && $(BIN)/ansible-playbook -i localhost, -c local playbooks/demo.yml

# The two other cores' checks run side by side (each is mostly one process; they use different
# Pythons, so ansible-test's cached sanity environments cannot collide); -O keeps their output apart.
test: stage
	@$(MAKE) --no-print-directory lint sanity docs-lint docs-check
	@$(MAKE) --no-print-directory -j2 -O matrix
	@$(MAKE) --no-print-directory release-check pytest

# --- checks -------------------------------------------------------------

lint: stage
	cd $(CURDIR) && PATH=$(BIN):$$PATH $(BIN)/ansible-lint --profile production --strict
	cd $(COLLECTION) && $(BIN)/antsibull-changelog lint

sanity: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/ansible-test sanity --python $(ANSIBLE_TEST_PYTHON) --color no

docs-lint: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# Unit, integration and molecule tests in one pytest run, so its closing
# summary line is the last thing make test prints. --rootdir: pytest-ansible
# looks for molecule scenarios under the root directory.
pytest: stage test-image
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest --rootdir . tests/unit tests/integration

units: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest tests/unit

integration: stage test-image
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest --rootdir . tests/integration

# --- ansible-core versions -------------------------------------------------
#
# meta/runtime.yml admits ansible-core 2.16 and newer. Besides the default core of .venv
# (requirements-dev.txt, which runs everything), sanity and unit tests run on the oldest admitted
# core (2.16, Python 3.11) and on the newest (2.21, Python 3.13): matrix-CORE, each with a virtual
# environment .venv-CORE from tests/requirements/ansible-core-CORE.txt and a staged copy in
# .build-CORE. Interpreters are named by their full path: the pyenv shims on these machines
# (python3.13, ...) only print "command not found", and a shim found on PATH would be what
# ansible-test runs for --python. Set CORE_PYTHON_<core> to use another interpreter.
CORE_PYTHON_2.16 ?= $(PYTHON)
CORE_PYTHON_2.21 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.13))

$(CURDIR)/.venv-%/.installed: tests/requirements/ansible-core-%.txt | system-deps
	@test -n "$(CORE_PYTHON_$*)" || { echo "No Python for ansible-core $*: set CORE_PYTHON_$*=/path/to/python" >&2; exit 1; }
	@test -x $(CURDIR)/.venv-$*/bin/python || $(CORE_PYTHON_$*) -m venv $(CURDIR)/.venv-$*
	@echo "Installing ansible-core $* into .venv-$* ($$($(CURDIR)/.venv-$*/bin/python -V))"
	@$(CURDIR)/.venv-$*/bin/python -m pip install --quiet --requirement $< 2>&1 | { grep -v "^WARNING: Location .file:" || true; }
	@touch $@

# Kept between runs (make would otherwise remove these stamps as intermediate files).
.PRECIOUS: $(CURDIR)/.venv-%/.installed

matrix: $(addprefix matrix-,$(CORES))

# The unit tests run without pytest-ansible (not installed there): its option is dropped from addopts.
matrix-%: $(CURDIR)/.venv-%/.installed
	@$(CURDIR)/.venv-$*/bin/python tests/setup/install-pip-bootstrap.py
	@$(PYTHON) tests/setup/stage.py $(CURDIR) $(CURDIR)/.build-$* >/dev/null
	@echo "ansible-core $*: sanity"
	cd $(CURDIR)/.build-$*/ansible_collections/hypervisor/images && PATH=$(CURDIR)/.venv-$*/bin:$$PATH \
		ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.build-$* $(CURDIR)/.venv-$*/bin/ansible-test sanity --color no \
		--python $$($(CURDIR)/.venv-$*/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	@echo "ansible-core $*: unit tests"
	cd $(CURDIR)/.build-$*/ansible_collections/hypervisor/images && PATH=$(CURDIR)/.venv-$*/bin:$$PATH \
		ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.build-$* $(CURDIR)/.venv-$*/bin/python -m pytest -q -p no:cacheprovider \
		-o addopts="-ra --strict-markers" tests/unit

# --- release --------------------------------------------------------------

# Build the tarball, install it into an empty collections path, run ansible-doc and a smoke play from there.
release-check: stage
	PATH=$(BIN):$$PATH $(BIN)/python tests/release/check.py $(COLLECTION)

# Fold every changelog fragment into the release that galaxy.yml names (CONTRIBUTING.md, "Changelog").
changelog: stage
	PATH=$(BIN):$$PATH $(BIN)/python tests/setup/changelog.py $(COLLECTION) $(CURDIR)

# --- documentation ----------------------------------------------------------

# The docs site: antsibull-docs writes the plugin pages and copies the guides of docs/docsite,
# Sphinx builds the HTML. These machines reach no documentation host, so docs/sphinx_offline.py
# empties the intersphinx inventories and links the few labels of the Ansible documentation that
# the generated pages use.
DOCS := $(BUILD)/docs

docs: stage
	rm -rf $(DOCS) && mkdir -p $(DOCS) && chmod 755 $(DOCS)
	cd $(DOCS) && PATH=$(BIN):$$PATH $(BIN)/antsibull-docs sphinx-init --use-current --squash-hierarchy \
		--dest-dir . --project hypervisor.images --copyright "hypervisor.images contributors" \
		--title hypervisor.images hypervisor.images >/dev/null
	cat $(COLLECTION)/docs/sphinx_offline.py >> $(DOCS)/conf.py
	mkdir -p $(DOCS)/rst && chmod og-w $(DOCS)/rst
	cd $(DOCS) && PATH=$(BIN):$$PATH $(BIN)/antsibull-docs --config-file antsibull-docs.cfg collection --use-current \
		--squash-hierarchy --fail-on-error --cleanup everything --dest-dir rst hypervisor.images
	cp -r $(COLLECTION)/docs/docsite/rst/images $(DOCS)/rst/docsite/
	@# antsibull-docs always writes an index of the environment variables plugins declare (for the list
	@# of all collections on docs.ansible.com, where plugin pages link into it); no plugin here declares
	@# one, so the page would be an orphan saying so. It stays once it lists a variable.
	if grep -q "No environment variables have been defined" $(DOCS)/rst/environment_variables.rst; then \
		rm $(DOCS)/rst/environment_variables.rst; fi
	cd $(DOCS) && PATH=$(BIN):$$PATH $(BIN)/sphinx-build -M html rst build -c . -W --keep-going -q
	@echo "Documentation site: $(DOCS)/build/html/index.html"

# The built site as a reader meets it (tests/docs/check_site.py): every page reachable from the
# index, search excerpts, commands that paste, inline markup rendered.
docs-check: docs
	$(BIN)/python $(COLLECTION)/tests/docs/check_site.py $(DOCS)/build/html

# Full-page PNGs of the built site with headless Chromium (the Debian package, installed here and
# not by make test), to look at before a release: the index, one module page and every guide. The
# script also fails on a table wider than the text column or a word of a table cell broken across
# lines. SCREENSHOTS names the directory.
SCREENSHOTS ?= $(BUILD)/screenshots

screenshots: docs
	@EXTRA_PACKAGES="chromium fonts-dejavu-core" PYTHON=$(PYTHON) tests/setup/system-deps.sh
	rm -rf $(SCREENSHOTS)
	$(BIN)/python $(COLLECTION)/tests/docs/screenshots.py $(DOCS)/build/html $(SCREENSHOTS)
	@echo "Screenshots: $(SCREENSHOTS)"

# --- benchmarks -------------------------------------------------------------

# BENCH="name ..." runs some benchmarks. Results go to benchmarks/results of this checkout, the
# report (performance.rst and its plots) to docs/docsite/rst; bench-report only rewrites the report.
BENCH_ENV = PATH=$(BIN):$$PATH BENCH_RESULTS=$(CURDIR)/benchmarks/results BENCH_REPORT_DIR=$(CURDIR)/docs/docsite/rst

bench: stage test-image
	cd $(COLLECTION) && $(BENCH_ENV) $(BIN)/python -m benchmarks $(BENCH)

bench-report: stage
	cd $(COLLECTION) && $(BENCH_ENV) $(BIN)/python -m benchmarks --report-only

clean:
	rm -rf $(BUILD) $(addprefix $(CURDIR)/.build-,$(CORES)) tests/output .pytest_cache .hypothesis
