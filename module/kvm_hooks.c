// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune KVM hooks: kprobes on kvm.ko's arch callbacks, and discovery
 * of the VMs that existed before the module was loaded.
 *
 * kvm_arch_commit_memory_region() runs under kvm->slots_lock after KVM
 * installed the new memslots: first sight of a VM and every memslot change.
 * kvm_arch_pre_destroy_vm() and kvm_arch_destroy_vm() run before KVM frees
 * the VM; a VM whose creation failed only gets the latter. A kretprobe on
 * kvm_age_gfn() reads KVM's answer to aging checks (aging_young).
 *
 * Kprobe handlers run with preemption disabled: they copy what they need,
 * allocate only with GFP_ATOMIC and leave everything else to kmt_wq.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/kprobes.h>
#include <linux/kvm_host.h>
#include <linux/module.h>
#include <linux/sched/signal.h>

#include "compat.h"
#include "trace.h"
#include "vm.h"

/* Memslot changes lost because a VM record could not be allocated. */
static atomic64_t kmt_events_lost;

static const u8 kmt_change_event[] = {
	[KVM_MR_CREATE] = KMT_SLOT_CREATE,
	[KVM_MR_DELETE] = KMT_SLOT_DELETE,
	[KVM_MR_MOVE] = KMT_SLOT_MOVE,
	[KVM_MR_FLAGS_ONLY] = KMT_SLOT_FLAGS,
};

/* The pid that names a VM: its process, as seen from the hook's context. */
static pid_t kmt_vm_owner_pid(struct kvm *kvm)
{
	if (current->mm == kvm->mm)
		return current->tgid;
	return kvm->userspace_pid;
}

/* kvm_arch_commit_memory_region(kvm, old, new, change) */
static int kmt_commit_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct kvm *kvm = (struct kvm *)regs_get_kernel_argument(regs, 0);
	const struct kvm_memory_slot *old = (void *)regs_get_kernel_argument(regs, 1);
	const struct kvm_memory_slot *new = (void *)regs_get_kernel_argument(regs, 2);
	unsigned int change = regs_get_kernel_argument(regs, 3);
	const struct kvm_memory_slot *s = new ?: old;
	struct kmt_vm *vm;

	/*
	 * KVM deletes its private slots while it destroys a VM, after the
	 * destroy hook let go of it: never bring such a VM back.
	 */
	if (!refcount_read(&kvm->users_count))
		return 0;
	if (change >= ARRAY_SIZE(kmt_change_event) || !s)
		return 0;

	vm = kmt_vm_find_or_add(kvm, kmt_vm_owner_pid(kvm), current->comm, GFP_ATOMIC);
	if (!vm) {
		atomic64_inc(&kmt_events_lost);
		return 0;
	}
	kmt_vm_slot_event(vm, kmt_change_event[change]);
	trace_memslot_change(vm->pid, vm->seq, kmt_change_event[change], s->as_id, s->id,
			     s->base_gfn, s->npages, s->userspace_addr, s->flags);
	return 0;
}

/* kvm_arch_pre_destroy_vm(kvm) and kvm_arch_destroy_vm(kvm) */
static int kmt_destroy_pre(struct kprobe *p, struct pt_regs *regs)
{
	kmt_vm_destroying((struct kvm *)regs_get_kernel_argument(regs, 0));
	return 0;
}

/*
 * kvm_age_gfn(kvm, range) answers one aging check (clear_young or
 * clear_flush_young) for the part of one memslot the checked range covers:
 * true when the guest accessed the memory since the last check. The caller
 * ORs that answer with the primary MMU's and other notifiers', so no other
 * notifier sees it: it is read here, on the function's way out. Only
 * address space 0 counts, so that a check of memory that the SMM view maps
 * too counts once.
 */
struct kmt_age_call {
	struct kvm *kvm;
};

static int kmt_age_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct kvm_gfn_range *range = (void *)regs_get_kernel_argument(regs, 1);
	struct kmt_age_call *call = (struct kmt_age_call *)ri->data;

	if (!range->slot || range->slot->as_id)
		return 1;	/* no return handler for this call */
	call->kvm = (struct kvm *)regs_get_kernel_argument(regs, 0);
	return 0;
}

static int kmt_age_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const struct kmt_age_call *call = (const struct kmt_age_call *)ri->data;

	/* A bool return value: only the low byte is defined. */
	if (regs_return_value(regs) & 0xff)
		kmt_vm_count_young(call->kvm);
	return 0;
}

/*
 * Preemption is off or an RCU read section is held while KVM ages
 * memory, so at most one call per CPU is in flight: the default number of
 * instances (twice the possible CPUs) never runs out.
 */
static struct kretprobe kmt_age_probe = {
	.kp.symbol_name = "kvm_age_gfn",
	.entry_handler = kmt_age_entry,
	.handler = kmt_age_return,
	.data_size = sizeof(struct kmt_age_call),
};

/*
 * For the selftests: hook one more KVM function, one that no kernel has, so
 * that loading fails the way it does on a kernel whose kvm.ko lacks a hooked
 * function, after the real hooks were registered.
 */
static bool selftest_missing_hook;
module_param(selftest_missing_hook, bool, 0);
MODULE_PARM_DESC(selftest_missing_hook,
		 "For the selftests only: also hook a KVM function that does not exist, so that loading fails (default: no)");

/*
 * Registered in this order and unregistered in reverse, with every VM
 * forgotten in between (kmt_unhook()). A VM enters the registry only
 * through the commit hook (and discovery, after all hooks): with the
 * destroy hooks attached before it and detached after the registry is
 * emptied, no record outlives its VM unnoticed.
 */
enum {
	KMT_HOOK_PRE_DESTROY,
	KMT_HOOK_DESTROY,
	KMT_HOOK_COMMIT,
	KMT_HOOK_SELFTEST,
};

static struct kprobe kmt_kprobes[] = {
	[KMT_HOOK_PRE_DESTROY] = { .symbol_name = "kvm_arch_pre_destroy_vm",
				   .pre_handler = kmt_destroy_pre },
	[KMT_HOOK_DESTROY] = { .symbol_name = "kvm_arch_destroy_vm",
			       .pre_handler = kmt_destroy_pre },
	[KMT_HOOK_COMMIT] = { .symbol_name = "kvm_arch_commit_memory_region",
			      .pre_handler = kmt_commit_pre },
	/* Last, and only with selftest_missing_hook: never found, no handler. */
	[KMT_HOOK_SELFTEST] = { .symbol_name = "kvm_arch_kvmmemtune_selftest_missing" },
};

/* Hooks to register: the selftest one only when asked for. */
static int kmt_nr_hooks(void)
{
	return ARRAY_SIZE(kmt_kprobes) - !selftest_missing_hook;
}

/*
 * Unregister the first @nr hooks: the aging probe (registered with the
 * commit hook) and those that add VMs, then every VM is forgotten (marked
 * dead) while the destroy hooks still watch, then the destroy hooks.
 * Unregistering waits for running handlers.
 */
static void kmt_unhook(int nr)
{
	int i;

	if (nr > KMT_HOOK_COMMIT)
		unregister_kretprobe(&kmt_age_probe);
	for (i = nr - 1; i >= KMT_HOOK_COMMIT; i--)
		unregister_kprobe(&kmt_kprobes[i]);
	kmt_vm_forget_all();
	for (; i >= 0; i--)
		unregister_kprobe(&kmt_kprobes[i]);
}

/**
 * kmt_kvm_events_lost() - memslot changes not accounted for lack of memory
 *
 * Context: any.
 */
u64 kmt_kvm_events_lost(void)
{
	return atomic64_read(&kmt_events_lost);
}

/**
 * kmt_kvm_hooks_init() - attach to kvm.ko
 *
 * Context: module init, after kmt_vm_init(). Fails, naming the function,
 * when one of the hooked KVM functions does not exist on this kernel.
 * Return: 0 or a negative errno, with no hook left registered and no VM
 * record left alive.
 */
int kmt_kvm_hooks_init(void)
{
	const char *name;
	int i, ret;

	for (i = 0; i < kmt_nr_hooks(); i++) {
		name = kmt_kprobes[i].symbol_name;
		ret = register_kprobe(&kmt_kprobes[i]);
		if (!ret && i == KMT_HOOK_COMMIT) {
			name = kmt_age_probe.kp.symbol_name;
			ret = register_kretprobe(&kmt_age_probe);
			if (ret)
				unregister_kprobe(&kmt_kprobes[i]);
		}
		if (ret == -ENOENT) {
			pr_err("cannot hook KVM function %s: kvm.ko of this kernel has no such function; not loading\n",
			       name);
			goto err;
		} else if (ret) {
			pr_err("cannot hook KVM function %s: error %d; not loading\n", name, ret);
			goto err;
		}
	}
	return 0;
err:
	kmt_unhook(i);
	return ret;
}

/**
 * kmt_kvm_hooks_exit() - detach from kvm.ko
 *
 * Context: module exit. On return no handler runs any more, and every VM
 * record is marked dead: none is dereferenced again.
 */
void kmt_kvm_hooks_exit(void)
{
	kmt_unhook(kmt_nr_hooks());
}

/* ---- Discovery of VMs that existed before load ---- */

#define KMT_DISCOVER_BATCH 32

struct kmt_found_vm {
	struct kvm *kvm;
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

/* Filled under spinlocks: fixed size, no allocation. */
struct kmt_discover_ctx {
	struct kmt_found_vm vm[KMT_DISCOVER_BATCH];
	unsigned int nr;
	bool full;
	struct task_struct *task;
};

/* iterate_fd() callback, under files->file_lock. Nonzero stops the walk. */
static int kmt_discover_fd(const void *arg, struct file *file, unsigned int fd)
{
	struct kmt_discover_ctx *ctx = (struct kmt_discover_ctx *)arg;
	struct kmt_found_vm *f;
	struct kvm *kvm;
	unsigned int i;

	if (!kmt_file_is_kvm(file))
		return 0;
	kvm = file->private_data;
	for (i = 0; i < ctx->nr; i++)
		if (ctx->vm[i].kvm == kvm)
			return 0;
	if (kmt_vm_known(kvm))
		return 0;
	if (ctx->nr == KMT_DISCOVER_BATCH) {
		ctx->full = true;
		return 1;
	}
	/* The open file holds a reference: the VM is alive right now. */
	if (!kvm_get_kvm_safe(kvm))
		return 0;
	f = &ctx->vm[ctx->nr++];
	f->kvm = kvm;
	f->pid = ctx->task->tgid;
	strscpy(f->comm, ctx->task->comm, sizeof(f->comm));
	return 0;
}

/**
 * kmt_discover_vms() - register every VM that exists now
 *
 * Walks every process's open files for KVM VM files. Each VM found is
 * pinned only while it is registered. Call after the hooks are attached, so
 * that a VM created meanwhile is seen by one or the other (the registry
 * dedupes).
 *
 * Context: process context; sleeps.
 * Return: the number of VMs registered.
 */
int kmt_discover_vms(void)
{
	struct kmt_discover_ctx *ctx;
	struct task_struct *p;
	unsigned int i, added;
	int found = 0;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	do {
		ctx->nr = 0;
		ctx->full = false;
		rcu_read_lock();
		for_each_process(p) {
			task_lock(p);
			ctx->task = p;
			if (p->files)
				iterate_fd(p->files, 0, kmt_discover_fd, ctx);
			task_unlock(p);
			if (ctx->full)
				break;
		}
		rcu_read_unlock();

		added = 0;
		for (i = 0; i < ctx->nr; i++) {
			struct kmt_found_vm *f = &ctx->vm[i];

			if (kmt_vm_find_or_add(f->kvm, f->pid, f->comm, GFP_KERNEL))
				added++;
			kvm_put_kvm(f->kvm);
		}
		found += added;
		cond_resched();
		/* Without progress (no memory) another pass finds the same VMs. */
	} while (ctx->full && added);
	kfree(ctx);
	return found;
}
