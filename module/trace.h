/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvmmemtune's own tracepoints, for perf and bpftrace users:
 * events/kvmmemtune/{vm_add,vm_remove,memslot_change} in tracefs.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvmmemtune

#if !defined(_KMT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KMT_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(vm_add,
	TP_PROTO(pid_t pid, u64 seq, const char *comm),
	TP_ARGS(pid, seq, comm),
	TP_STRUCT__entry(
		__field(pid_t, pid)
		__field(u64, seq)
		__array(char, comm, TASK_COMM_LEN)
	),
	TP_fast_assign(
		__entry->pid = pid;
		__entry->seq = seq;
		strscpy(__entry->comm, comm, TASK_COMM_LEN);
	),
	TP_printk("vm=%d-%llu comm=%s", __entry->pid, __entry->seq, __entry->comm)
);

TRACE_EVENT(vm_remove,
	TP_PROTO(pid_t pid, u64 seq),
	TP_ARGS(pid, seq),
	TP_STRUCT__entry(
		__field(pid_t, pid)
		__field(u64, seq)
	),
	TP_fast_assign(
		__entry->pid = pid;
		__entry->seq = seq;
	),
	TP_printk("vm=%d-%llu", __entry->pid, __entry->seq)
);

TRACE_EVENT(memslot_change,
	TP_PROTO(pid_t pid, u64 seq, u8 change, u16 as_id, u16 id,
		 u64 base_gfn, u64 npages, unsigned long uaddr, u32 flags),
	TP_ARGS(pid, seq, change, as_id, id, base_gfn, npages, uaddr, flags),
	TP_STRUCT__entry(
		__field(pid_t, pid)
		__field(u64, seq)
		__field(u8, change)
		__field(u16, as_id)
		__field(u16, id)
		__field(u64, base_gfn)
		__field(u64, npages)
		__field(unsigned long, uaddr)
		__field(u32, flags)
	),
	TP_fast_assign(
		__entry->pid = pid;
		__entry->seq = seq;
		__entry->change = change;
		__entry->as_id = as_id;
		__entry->id = id;
		__entry->base_gfn = base_gfn;
		__entry->npages = npages;
		__entry->uaddr = uaddr;
		__entry->flags = flags;
	),
	TP_printk("vm=%d-%llu %s as=%u id=%u base_gfn=%llu npages=%llu uaddr=0x%lx flags=%u",
		  __entry->pid, __entry->seq,
		  __print_symbolic(__entry->change, { 0, "create" }, { 1, "delete" },
				   { 2, "move" }, { 3, "flags" }),
		  __entry->as_id,
		  __entry->id, __entry->base_gfn, __entry->npages, __entry->uaddr,
		  __entry->flags)
);

TRACE_EVENT(compact_trigger,
	TP_PROTO(int nid, u8 cause),
	TP_ARGS(nid, cause),
	TP_STRUCT__entry(
		__field(int, nid)
		__field(u8, cause)
	),
	TP_fast_assign(
		__entry->nid = nid;
		__entry->cause = cause;
	),
	TP_printk("node=%d cause=%s", __entry->nid,
		  __print_symbolic(__entry->cause, { 0, "manual" }, { 1, "auto" },
				   { 2, "vm_create" }))
);

#endif /* _KMT_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
