# bsmount — make install | test | lint | demo | demo-stop | bench [QUICK=1] | bench-deps
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_PACKAGES := fuse3 libfuse3-dev pkg-config samtools bcftools tabix rsync python3-venv python3-dev gcc curl psmisc procps mount git
PYTEST_ARGS ?=

.PHONY: install system-packages system-links test lint demo demo-stop bench bench-deps clean

install: system-packages $(STAMP) system-links

system-packages:
	@missing=""; for p in $(SYS_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing system packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $$missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; } || exit 1; \
	  else \
	    echo "missing system packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "installing bsmount and its dependencies into $(VENV)/ (log: $(VENV)/install.log)"
	@$(VPY) -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@$(VPY) -m pip install -q -e '.[emulator,test,dev]' >> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

# As root: mount(8) finds its helper for `mount -t fuse.bsmount` and fstab in /sbin (it runs
# helpers with a reduced PATH), and systemd units (docs/examples/) run /usr/local/bin/bsmount.
# Both are symlinks to this venv's entry points; a regular file there is never replaced.
SYSTEM_LINKS := /sbin/mount.fuse.bsmount:mount.fuse.bsmount /usr/local/bin/bsmount:bsmount

system-links: $(STAMP)
	@if [ "$$(id -u)" = "0" ]; then \
	  for pair in $(SYSTEM_LINKS); do \
	    link=$${pair%%:*}; target=$(abspath $(VENV))/bin/$${pair##*:}; \
	    if [ -e "$$link" ] && [ ! -L "$$link" ]; then echo "$$link exists and is not a link: left alone"; \
	    elif [ "$$(readlink "$$link")" != "$$target" ]; then ln -sfn "$$target" "$$link" && echo "linked $$link -> $$target"; fi; \
	  done; \
	else \
	  echo "not root: for mount -t fuse.bsmount and fstab, run as root:"; \
	  echo "  ln -s $(abspath $(VENV))/bin/mount.fuse.bsmount /sbin/mount.fuse.bsmount"; \
	fi

test: install
	$(VPY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

lint: install
	$(VENV)/bin/ruff check bsmount tests bench
	$(VENV)/bin/ruff format --check bsmount tests bench
	$(VENV)/bin/mypy

demo: install
	@$(VPY) -m bsmount.demo start

demo-stop:
	@$(VPY) -m bsmount.demo stop

BENCH_PACKAGES := nginx rclone fio strace samtools curl fuse3

bench-deps: install
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing benchmark packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $$missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; } || exit 1; \
	  else \
	    echo "missing benchmark packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@test -x $(VENV)/bin/py-spy || $(VPY) -m pip install -q py-spy

bench: bench-deps
	@$(VPY) -m bench.run $(if $(QUICK),--quick,) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
