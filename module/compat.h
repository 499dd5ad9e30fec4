/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune: every kernel-version difference, in one place. Each entry
 * names the change it papers over.
 */
#ifndef _KMT_COMPAT_H
#define _KMT_COMPAT_H

#include <linux/kvm_host.h>
#include <linux/version.h>

#include "../include/kvmmemtune.h"

/*
 * v6.8 "KVM: Allow arch code to track number of memslot address spaces per
 * VM" replaced KVM_ADDRESS_SPACE_NUM by KVM_MAX_NR_ADDRESS_SPACES and a
 * per-VM count.
 */
#ifdef KVM_MAX_NR_ADDRESS_SPACES
#define KMT_MAX_AS KVM_MAX_NR_ADDRESS_SPACES
static inline int kmt_nr_address_spaces(struct kvm *kvm)
{
	return kvm_arch_nr_memslot_as_ids(kvm);
}
#else
#define KMT_MAX_AS KVM_ADDRESS_SPACE_NUM
static inline int kmt_nr_address_spaces(struct kvm *kvm)
{
	return KVM_ADDRESS_SPACE_NUM;
}
#endif

/*
 * "sysfs: treewide: constify attribute callback of bin_attribute" (a series
 * between v6.13 and v6.16): read() and the group's bin_attrs take const
 * pointers. A signature change leaves no macro to test for.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define KMT_BIN_ATTR_CONST const
#define KMT_BIN_ATTR_READ read
#define KMT_BIN_ATTRS bin_attrs
#else
#define KMT_BIN_ATTR_CONST
#define KMT_BIN_ATTR_READ read
#define KMT_BIN_ATTRS bin_attrs
#endif

#endif /* _KMT_COMPAT_H */
