# SPDX-License-Identifier: GPL-2.0
#
# kvmmemtune: kernel module + tool.
#
#   make                 module for the running kernel (or KVER= / KDIR=) and the tool
#   make install         module into /lib/modules/KVER/updates + depmod, tool into PREFIX
#   make uninstall       removes exactly that (DESTDIR= stages both, without depmod)
#   make dkms-install    module through dkms for KVER (source in /usr/src/kvmmemtune-VERSION)
#   make dkms-remove     the reverse
#   make check           module with W=1 and sparse (C=2) for every matrix kernel
#   make test            the selftests, in a QEMU guest per matrix kernel
#   make stress          the reliability storm, long, in a QEMU guest per matrix kernel
#   make debug-test      the selftests on a lockdep/KASAN/kmemleak 6.12 kernel (built once)
#   make demo            a live VM and what /sys/kernel/kvmmemtune shows of it
#   make bench           cost ratios, measured in one guest run per kernel
#   make clean

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
KMT_CACHE ?= /var/cache/kvmmemtune
export KMT_CACHE
VERSION := $(shell sed -n 's/^\#define KMT_VERSION "\(.*\)"$$/\1/p' $(CURDIR)/include/kvmmemtune.h)

# make install: DESTDIR stages (a package build, a test); PREFIX is the tool's.
DESTDIR ?=
PREFIX ?= /usr/local
MODDIR = $(DESTDIR)/lib/modules/$(KVER)/updates

# make dkms-install: DKMS_SRC is dkms's source tree; DKMS_FLAGS are passed to
# every dkms command (the selftests use --dkmstree/--sourcetree/--installtree).
DKMS ?= dkms
DKMS_SRC ?= /usr/src
DKMS_FLAGS ?=
DKMS_MOD = kvmmemtune/$(VERSION)

all: module tool

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tool:
	$(MAKE) -C tools

# kbuild installs (and, where the kernel's config says so, compresses) the
# module. It signs it only where the kernel's signing key is at hand: a
# self-built kernel, not a distribution's (whose key is not shipped; without
# the key, kbuild's attempt just prints SSL errors). depmod runs here, not in
# kbuild (which skips it without System.map), and only for a real install: a
# staged tree gets depmod where it is unpacked.
SIG_KEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"/\1/p' $(KDIR)/.config 2>/dev/null)
NO_SIGN = $(if $(SIG_KEY),$(if $(wildcard $(KDIR)/$(SIG_KEY)),,CONFIG_MODULE_SIG_ALL=))

install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates \
		DEPMOD=true $(NO_SIGN) modules_install
	$(if $(DESTDIR),@echo "staged in $(DESTDIR): run depmod $(KVER) where it is installed",depmod -a $(KVER))
	$(MAKE) -C tools install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

uninstall:
	rm -f $(MODDIR)/kvmmemtune.ko $(MODDIR)/kvmmemtune.ko.xz $(MODDIR)/kvmmemtune.ko.zst \
		$(MODDIR)/kvmmemtune.ko.gz
	$(if $(DESTDIR),,depmod -a $(KVER))
	$(MAKE) -C tools uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# Idempotent: a build of this version for KVER is removed first, the source
# copy refreshed, and the module added again if that removal was its last.
dkms-install:
	$(DKMS) remove $(DKMS_FLAGS) $(DKMS_MOD) -k $(KVER) >/dev/null 2>&1 || true
	rm -rf $(DKMS_SRC)/kvmmemtune-$(VERSION)
	mkdir -p $(DKMS_SRC)/kvmmemtune-$(VERSION)
	cp -r Kbuild dkms.conf module include $(DKMS_SRC)/kvmmemtune-$(VERSION)/
	$(DKMS) status $(DKMS_FLAGS) -m kvmmemtune -v $(VERSION) | grep -q . || \
		$(DKMS) add $(DKMS_FLAGS) $(DKMS_MOD)
	$(DKMS) build $(DKMS_FLAGS) $(DKMS_MOD) -k $(KVER)
	$(DKMS) install $(DKMS_FLAGS) $(DKMS_MOD) -k $(KVER)

# The source copy goes with the last kernel that had this version.
dkms-remove:
	$(DKMS) remove $(DKMS_FLAGS) $(DKMS_MOD) -k $(KVER)
	$(DKMS) status $(DKMS_FLAGS) -m kvmmemtune -v $(VERSION) | grep -q . || \
		rm -rf $(DKMS_SRC)/kvmmemtune-$(VERSION)

check:
	selftests/check.sh

test:
	selftests/run.sh

demo:
	selftests/run.sh --demo

# KMT_STRESS_SECONDS (300) of storm with KMT_STRESS_RELOADS (20) module reloads.
stress:
	selftests/run.sh --stress

# The debug kernel takes long to build the first time (see README); it is
# cached and reused. Under its checks everything runs several times slower.
debug-test:
	[ -n "$$KMT_SKIP_DEPS" ] || selftests/deps.sh
	kver=$$(selftests/debug-kernel.sh) && \
		KMT_SKIP_DEPS=1 selftests/run.sh $$kver

bench:
	selftests/run.sh --bench

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || \
		rm -rf module/*.o module/.*.cmd *.ko *.mod* Module.symvers modules.order .*.cmd
	$(MAKE) -C tools clean

.PHONY: all module tool install uninstall dkms-install dkms-remove check test demo bench stress \
	debug-test clean
