/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune: names shared by the kernel module and the tool.
 */
#ifndef _KVMMEMTUNE_H
#define _KVMMEMTUNE_H

#define KMT_VERSION "0.1.0"

/* Where the module's sysfs tree lives. */
#define KMT_SYSFS_ROOT "/sys/kernel/kvmmemtune"

#endif /* _KVMMEMTUNE_H */
