# irisxe-sriov: build, test, lint, benchmark. Run as root on Debian 12 or 13:
#   make deb     builds dist/irisxe-sriov_<version>_all.deb (installs build dependencies)
#   make check   builds the .deb, lints, runs every test tier (installs what they need)
#   make test    the fast tier only: unit and CLI tests on fake roots, no .deb, no chroot
SHELL := /bin/bash
# The package runs on Debian's interpreter with Debian's libraries: test with that one,
# not with whatever python3 comes first on PATH.
PYTHON := /usr/bin/python3
BUILD := build
LINT_VENV := $(BUILD)/lint-venv
RUFF_VERSION := 0.17.6
MYPY_VERSION := 2.4.1
MUTMUT_VERSION := 2.5.1
MUTATION := $(BUILD)/mutation
# What `make mutation` mutates (the pure core) and the fast tests it runs against each mutant,
# quickest first: -x stops at the first failure.
MUTATED := src/irisxe_sriov/settings.py,src/irisxe_sriov/cmdline.py,src/irisxe_sriov/write/render.py,src/irisxe_sriov/write/plan.py
MUTATION_TESTS := tests/unit/test_settings.py tests/unit/test_cmdline.py tests/unit/test_plan.py tests/unit/test_render.py \
	tests/unit/test_postrm_undo.py tests/unit/test_bootpaths.py tests/unit/test_properties.py

# Debian packages the fast tier needs (the runtime libraries, pytest and pytest-timeout,
# venv for the console-script test, shellcheck for the maintainer scripts, jsonschema for
# the JSON contract, man-db for the man page check, whiptail and tmux for the debconf
# templates as a person sees them, prometheus-client to parse the metrics, ...).
TEST_DEPS := python3-click python3-jinja2 python3-debian python3-debconf python3-pytest \
	python3-venv python3-setuptools python3-wheel python3-pip shellcheck po-debconf \
	dpkg-dev libvirt-clients libxml2-utils python3-hypothesis python3-pytest-timeout \
	python3-jsonschema man-db whiptail tmux python3-prometheus-client
# And what the chroot and VM tiers need on top (make check): mmdebstrap, piuparts,
# autopkgtest for the package tests in Debian chroots, QEMU for the VM tests, git for
# building the previous release from its commit.
CHROOT_DEPS := mmdebstrap piuparts autopkgtest debian-archive-keyring qemu-system-x86 \
	e2fsprogs git

export PYTHONDONTWRITEBYTECODE := 1

# The package is built from a copy under build/ with Debian's own PATH, so that
# debian/rules and pybuild see /usr/bin/python3 whatever comes first on PATH here.
DEBIAN_PATH := /usr/sbin:/usr/bin:/sbin:/bin
VERSION = $(shell dpkg-parsechangelog -S Version)
DEB = dist/irisxe-sriov_$(VERSION)_all.deb

.PHONY: all check test vm-test lint deps check-deps lint-deps build-deps deb bench golden \
	mutation clean

all: check

# Install only what is missing, so a prepared machine does not touch apt at all.
install-missing = @missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps:
	$(call install-missing,$(TEST_DEPS))

check-deps:
	$(call install-missing,$(TEST_DEPS) $(CHROOT_DEPS))

$(LINT_VENV)/.done: Makefile
	$(PYTHON) -m venv --system-site-packages $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q --disable-pip-version-check ruff==$(RUFF_VERSION) mypy==$(MYPY_VERSION)
	touch $@

lint-deps: deps $(LINT_VENV)/.done

lint: lint-deps
	$(LINT_VENV)/bin/ruff check src tests
	$(LINT_VENV)/bin/ruff format --check src tests
	$(LINT_VENV)/bin/mypy
	$(LINT_VENV)/bin/mypy --config-file tests/mypy.ini
	shellcheck .ci/run
	shellcheck -s sh debian/irisxe-sriov.config debian/irisxe-sriov.postinst debian/irisxe-sriov.postrm

# The fast tier: pyproject.toml's addopts deselect the chroot and vm tiers, which need the
# .deb; it is what a plain `pytest` runs too.
test: deps
	$(PYTHON) -m pytest -q tests

# The VM tests alone (make check runs them with the rest): needs the .deb.
vm-test: check-deps deb
	$(PYTHON) -m pytest -q -m vm tests

# Every tier against the .deb just built (-m '' undoes the default deselection).
check: check-deps deb lint
	$(PYTHON) -m pytest -q -m '' tests

build-deps:
	@dpkg-query -W -f='$${Status}\n' dpkg-dev 2>/dev/null | grep -q '^install ok installed' || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev; }
	@dpkg-checkbuilddeps 2>/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq ./; }

deb: build-deps
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/irisxe-sriov dist
	tar -c --exclude=./build --exclude=./dist --exclude=./.git . | tar -x -C $(BUILD)/deb/irisxe-sriov
	cd $(BUILD)/deb/irisxe-sriov && env PATH=$(DEBIAN_PATH) dpkg-buildpackage -us -uc -b
	cp $(BUILD)/deb/irisxe-sriov_$(VERSION)_all.deb $(DEB)
	cp $(DEB) dist/irisxe-sriov.deb
	@echo "built $(DEB) (and dist/irisxe-sriov.deb)"

# On Debian 13's python3 and libraries, in an overlay on the trixie package chroot.
bench: check-deps
	$(PYTHON) tests/harness/bench_chroot.py --output docs/performance.md

# Rewrite tests/unit/golden/ from what render gives now, after an intended change; the golden
# test itself only compares. Review the diff before committing it.
golden: deps
	PYTHONPATH=src $(PYTHON) tests/unit/test_render.py

$(MUTATION)/venv/.done: Makefile
	$(PYTHON) -m venv --system-site-packages $(MUTATION)/venv
	$(MUTATION)/venv/bin/pip install -q --disable-pip-version-check mutmut==$(MUTMUT_VERSION)
	touch $@

# Mutation testing of the pure core (about 40 minutes on two cores). mutmut 2 rewrites the
# files it mutates in place, so it works on a copy of the tree under build/, where its
# .mutmut-cache stays too; `--CI` exits 0 whatever survives (some mutants are equivalent).
mutation: deps $(MUTATION)/venv/.done
	rm -rf $(MUTATION)/tree && mkdir -p $(MUTATION)/tree
	tar -c --exclude=__pycache__ src tests debian conf pyproject.toml | tar -x -C $(MUTATION)/tree
	cd $(MUTATION)/tree && PYTHONDONTWRITEBYTECODE=1 nice -n 19 ../venv/bin/mutmut run --CI \
		--paths-to-mutate $(MUTATED) --tests-dir tests \
		--runner "$(PYTHON) -m pytest -x -q -p no:cacheprovider $(MUTATION_TESTS)"
	cd $(MUTATION)/tree && ../venv/bin/mutmut results

clean:
	rm -rf $(BUILD) dist .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
