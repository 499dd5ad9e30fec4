# SPDX-License-Identifier: GPL-2.0
#
# kvmmemtune: kernel module + tool.
#
#   make                 module for the running kernel (or KVER= / KDIR=) and the tool
#   make check           module with W=1 and sparse (C=2) for every matrix kernel
#   make test            the selftests, in a QEMU guest per matrix kernel
#   make demo            a live VM and what /sys/kernel/kvmmemtune shows of it
#   make bench           cost ratios, measured in one guest run per kernel
#   make install / uninstall, make clean

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
KMT_CACHE ?= /var/cache/kvmmemtune
export KMT_CACHE

all: module tool

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tool:
	$(MAKE) -C tools

check:
	selftests/check.sh

test:
	selftests/run.sh

demo:
	selftests/run.sh --demo

bench:
	selftests/run.sh --bench

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || \
		rm -rf module/*.o module/.*.cmd *.ko *.mod* Module.symvers modules.order .*.cmd
	$(MAKE) -C tools clean

.PHONY: all module tool check test demo bench clean
