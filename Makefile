# bsmount — make install | test | lint | demo | demo-stop | bench [QUICK=1] | bench-deps
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_PACKAGES := fuse3 libfuse3-dev pkg-config samtools bcftools tabix rsync python3-venv python3-dev gcc curl psmisc procps
PYTEST_ARGS ?=

.PHONY: install system-packages test lint demo demo-stop bench bench-deps clean

install: system-packages $(STAMP)

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
