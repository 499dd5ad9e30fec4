// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune VM registry.
 *
 * Every VM kvmmemtune has seen has one struct kmt_vm, found by its struct kvm
 * pointer in a small RCU hash table. Entries are added from the memslot commit
 * hook (atomic context) or by load-time discovery, and removed from the VM
 * destroy hooks (atomic context); everything that sleeps (sysfs, memslot
 * snapshots) runs on one ordered workqueue, so the directory of a VM is
 * always added before it is removed.
 *
 * Lock order: kmt_registry_lock -> kmt_vm.kvm_lock. kmt_vm.lock (a mutex) is
 * never held across either of them being taken by us, and is never taken
 * by a hook.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "trace.h"
#include "vm.h"

/* Protects kmt_registry and kmt_nr_vms against concurrent writers. */
static DEFINE_SPINLOCK(kmt_registry_lock);
static DEFINE_HASHTABLE(kmt_registry, 6);
static unsigned int kmt_nr_vms;
/* Sequence number of the next VM seen, module-wide: names vms/<pid>-<seq>. */
static u64 kmt_next_seq = 1;
/* Ordered: a VM's add_work always runs before its remove_work. */
static struct workqueue_struct *kmt_wq;
/*
 * A memslot change refreshes the snapshot one jiffy later: a burst of
 * changes (QEMU at boot, or a create/delete loop) costs one refresh, not a
 * work item per ioctl. Readers of memslots and stat refresh a stale
 * snapshot themselves; only the mmu notifier's attribution lags, by a tick.
 */
#define KMT_REFRESH_DELAY 1

static struct kmt_vm *kmt_vm_lookup(struct kvm *kvm)
{
	struct kmt_vm *vm;

	hash_for_each_possible_rcu(kmt_registry, vm, node, (unsigned long)kvm)
		if (vm->kvm == kvm)
			return vm;
	return NULL;
}

/* Queue @work for @vm, holding a reference for it until it has run. */
static void kmt_vm_queue(struct kmt_vm *vm, struct work_struct *work)
{
	kobject_get(&vm->kobj);
	if (!queue_work(kmt_wq, work))
		kobject_put(&vm->kobj);
}

/**
 * kmt_vm_get_kvm() - pin the VM behind @vm while it is being used
 * @vm: a registered VM
 *
 * Context: any; does not sleep. Takes and releases @vm->kvm_lock.
 * Return: true with a reference on @vm->kvm, to be dropped with
 * kmt_vm_put_kvm() from process context; false when KVM is already
 * destroying the VM.
 */
bool kmt_vm_get_kvm(struct kmt_vm *vm)
{
	bool ok;

	/*
	 * The destroy hook sets @dead before KVM frees the VM, under the same
	 * lock, so while !dead the struct kvm is still there to be asked.
	 */
	spin_lock(&vm->kvm_lock);
	ok = !vm->dead && kvm_get_kvm_safe(vm->kvm);
	spin_unlock(&vm->kvm_lock);
	return ok;
}

/**
 * kmt_vm_put_kvm() - drop the reference taken by kmt_vm_get_kvm()
 * @vm: the VM
 *
 * Context: process context, no kvmmemtune spinlock held: dropping the last
 * reference destroys the VM from here, which runs the destroy hooks.
 */
void kmt_vm_put_kvm(struct kmt_vm *vm)
{
	kvm_put_kvm(vm->kvm);
}

/*
 * Not kvfree_rcu(): its batches may hold snapshots for seconds after the
 * grace period, and module exit's rcu_barrier() waits for call_rcu()
 * callbacks only. This way unload leaves no snapshot behind.
 */
static void kmt_slots_free_rcu(struct rcu_head *rcu)
{
	kvfree(container_of(rcu, struct kmt_slots, rcu));
}

/* Take a fresh memslot snapshot when the last one is stale. */
static void __kmt_vm_refresh(struct kmt_vm *vm)
{
	struct kmt_slots *new, *old;
	int gen;

	lockdep_assert_held(&vm->lock);
	gen = atomic_read_acquire(&vm->slots_gen);
	if (rcu_access_pointer(vm->slots) && gen == vm->snap_gen)
		return;
	if (!kmt_vm_get_kvm(vm))
		return;
	new = kmt_slots_read(vm->kvm, GFP_KERNEL);
	kmt_vm_put_kvm(vm);
	if (!new)
		return;
	old = rcu_replace_pointer(vm->slots, new, lockdep_is_held(&vm->lock));
	vm->snap_gen = gen;
	if (old)
		call_rcu(&old->rcu, kmt_slots_free_rcu);
}

static void kmt_vm_refresh(struct kmt_vm *vm)
{
	mutex_lock(&vm->lock);
	__kmt_vm_refresh(vm);
	mutex_unlock(&vm->lock);
}

/**
 * kmt_vm_slots_begin() - up-to-date memslot snapshot of @vm, for a reader
 * @vm: the VM
 *
 * Refreshes the snapshot when a memslot change happened since it was taken,
 * so a read that follows an ioctl sees its effect.
 *
 * Context: process context; may sleep. Returns with @vm->lock held, which
 * keeps the snapshot alive; release it with kmt_vm_slots_end(). The result
 * is NULL when no snapshot could be taken.
 */
struct kmt_slots *kmt_vm_slots_begin(struct kmt_vm *vm)
{
	mutex_lock(&vm->lock);
	__kmt_vm_refresh(vm);
	return rcu_dereference_protected(vm->slots, lockdep_is_held(&vm->lock));
}

/**
 * kmt_vm_slots_end() - end of a kmt_vm_slots_begin() section
 * @vm: the VM
 *
 * Context: process context, @vm->lock held by kmt_vm_slots_begin().
 */
void kmt_vm_slots_end(struct kmt_vm *vm)
{
	mutex_unlock(&vm->lock);
}

static void kmt_vm_add_work(struct work_struct *work)
{
	struct kmt_vm *vm = container_of(work, struct kmt_vm, add_work);

	kmt_vm_refresh(vm);
	/* Published zeroed: the aging probe may find the VM any time. */
	smp_store_release(&vm->pcpu, alloc_percpu(struct kmt_vm_pcpu));
	kmt_watch_vm(vm);
	kmt_policy_vm_added(vm);
	kmt_compact_vm_added(vm);
	if (!kmt_vm_sysfs_add(vm)) {
		vm->in_sysfs = true;
		/* The directory and its files are complete: tell udev. */
		kobject_uevent(&vm->kobj, KOBJ_ADD);
		trace_vm_add(vm->pid, vm->seq, vm->comm);
	}
	kobject_put(&vm->kobj);
}

static void kmt_vm_refresh_work(struct work_struct *work)
{
	struct kmt_vm *vm = container_of(to_delayed_work(work), struct kmt_vm, refresh_work);

	kmt_vm_refresh(vm);
	kobject_put(&vm->kobj);
}

/* Runs with the reference the registry held. */
static void kmt_vm_remove_work(struct work_struct *work)
{
	struct kmt_vm *vm = container_of(work, struct kmt_vm, remove_work);

	/* A refresh still pending would only find the VM dead: drop its reference. */
	if (cancel_delayed_work(&vm->refresh_work))
		kobject_put(&vm->kobj);
	kmt_unwatch_vm(vm);
	if (vm->in_sysfs) {
		kobject_del(&vm->kobj);
		vm->in_sysfs = false;
		trace_vm_remove(vm->pid, vm->seq);
	}
	kobject_put(&vm->kobj);
}

static void kmt_vm_free_rcu(struct rcu_head *rcu)
{
	struct kmt_vm *vm = container_of(rcu, struct kmt_vm, rcu);

	kvfree(rcu_dereference_protected(vm->slots, 1));
	kvfree(vm->scan);
	free_percpu(vm->pcpu);
	kfree(vm);
}

/**
 * kmt_vm_release() - free a VM record when its last reference is gone
 * @kobj: the VM's kobject
 *
 * Context: process context (the last reference is dropped on kmt_wq or at
 * unload). Registry lookups and the mmu notifier may still hold the
 * pointer under RCU: free after a grace period (module exit waits for it
 * with rcu_barrier()).
 */
void kmt_vm_release(struct kobject *kobj)
{
	struct kmt_vm *vm = container_of(kobj, struct kmt_vm, kobj);

	call_rcu(&vm->rcu, kmt_vm_free_rcu);
}

/**
 * kmt_vm_known() - whether @kvm is registered
 * @kvm: any pointer
 *
 * Context: any; does not sleep.
 */
bool kmt_vm_known(struct kvm *kvm)
{
	bool known;

	rcu_read_lock();
	known = kmt_vm_lookup(kvm);
	rcu_read_unlock();
	return known;
}

/**
 * kmt_vm_count_young() - count KVM finding a page of @kvm young
 * @kvm: any pointer; nothing happens unless it is a registered VM
 *
 * Context: any; does not sleep. Called from the aging kretprobe.
 */
void kmt_vm_count_young(struct kvm *kvm)
{
	struct kmt_vm_pcpu __percpu *pcpu;
	struct kmt_vm *vm;

	rcu_read_lock();
	vm = kmt_vm_lookup(kvm);
	/* Pairs with the release in kmt_vm_add_work(): counters are zeroed. */
	pcpu = vm ? smp_load_acquire(&vm->pcpu) : NULL;
	if (pcpu)
		this_cpu_inc(pcpu->aging_young);
	rcu_read_unlock();
}

/**
 * kmt_vm_find_or_add() - the record of @kvm, created at first sight
 * @kvm: the VM; the caller guarantees it is alive for the duration
 * @pid: tgid of the process owning the VM
 * @comm: its command name
 * @gfp: GFP_ATOMIC from hooks, GFP_KERNEL from discovery
 *
 * Context: any context the @gfp allows; takes kmt_registry_lock.
 * Return: the VM, valid while @kvm is alive and kvmmemtune loaded, or NULL
 * when memory is short.
 */
struct kmt_vm *kmt_vm_find_or_add(struct kvm *kvm, pid_t pid, const char *comm,
				  gfp_t gfp)
{
	struct kmt_vm *vm, *old;

	rcu_read_lock();
	vm = kmt_vm_lookup(kvm);
	rcu_read_unlock();
	if (vm)
		return vm;

	vm = kzalloc(sizeof(*vm), gfp | __GFP_NOWARN);
	if (!vm)
		return NULL;
	kobject_init(&vm->kobj, &kmt_vm_ktype);
	vm->kvm = kvm;
	spin_lock_init(&vm->kvm_lock);
	mutex_init(&vm->lock);
	mutex_init(&vm->scan_lock);
	vm->pid = pid;
	strscpy(vm->comm, comm, sizeof(vm->comm));
	atomic_set(&vm->slots_gen, 1);
	INIT_WORK(&vm->add_work, kmt_vm_add_work);
	INIT_DELAYED_WORK(&vm->refresh_work, kmt_vm_refresh_work);
	INIT_WORK(&vm->remove_work, kmt_vm_remove_work);

	spin_lock(&kmt_registry_lock);
	old = kmt_vm_lookup(kvm);
	if (old) {
		spin_unlock(&kmt_registry_lock);
		/* Never published, never added: no kobject release needed. */
		kfree(vm);
		return old;
	}
	vm->seq = kmt_next_seq++;
	hash_add_rcu(kmt_registry, &vm->node, (unsigned long)kvm);
	kmt_nr_vms++;
	kmt_vm_queue(vm, &vm->add_work);
	spin_unlock(&kmt_registry_lock);
	return vm;
}

/**
 * kmt_vm_slot_event() - account a memslot change of @vm
 * @vm: the VM
 * @ev: what changed
 *
 * Context: any; called from the commit hook after KVM installed the new
 * memslots. Marks the snapshot stale and refreshes it in the background,
 * KMT_REFRESH_DELAY later; a refresh already pending covers this change too.
 */
void kmt_vm_slot_event(struct kmt_vm *vm, enum kmt_slot_event ev)
{
	atomic64_inc(&vm->slot_events[ev]);
	atomic_inc_return_release(&vm->slots_gen);
	kobject_get(&vm->kobj);
	if (!queue_delayed_work(kmt_wq, &vm->refresh_work, KMT_REFRESH_DELAY))
		kobject_put(&vm->kobj);
}

/*
 * Unhash @vm and mark it dead: nothing dereferences its kvm pointer again.
 * Its remove_work inherits the registry's reference.
 */
static void kmt_vm_forget(struct kmt_vm *vm)
{
	lockdep_assert_held(&kmt_registry_lock);
	hash_del_rcu(&vm->node);
	kmt_nr_vms--;
	spin_lock(&vm->kvm_lock);
	vm->dead = true;
	spin_unlock(&vm->kvm_lock);
	queue_work(kmt_wq, &vm->remove_work);
}

/**
 * kmt_vm_destroying() - KVM is destroying @kvm: forget it
 * @kvm: the VM, still allocated
 *
 * Context: any; called from the destroy hooks (for a VM whose creation
 * failed, only kvm_arch_destroy_vm runs), possibly twice for one VM.
 * After this returns nobody dereferences @kvm through kvmmemtune.
 */
void kmt_vm_destroying(struct kvm *kvm)
{
	struct kmt_vm *vm;

	spin_lock(&kmt_registry_lock);
	vm = kmt_vm_lookup(kvm);
	if (vm)
		kmt_vm_forget(vm);
	spin_unlock(&kmt_registry_lock);
}

/**
 * kmt_vm_forget_all() - forget every VM, as if KVM destroyed them all
 *
 * Called while the destroy hooks are still attached and nothing adds VMs
 * any more (the commit hook is gone): once the destroy hooks go, a VM
 * destroyed later would otherwise leave a record whose @kvm points to
 * freed memory, and a sysfs reader would dereference it.
 *
 * Context: process context, module exit or init failure.
 */
void kmt_vm_forget_all(void)
{
	struct hlist_node *tmp;
	struct kmt_vm *vm;
	int bkt;

	spin_lock(&kmt_registry_lock);
	hash_for_each_safe(kmt_registry, bkt, tmp, vm, node)
		kmt_vm_forget(vm);
	spin_unlock(&kmt_registry_lock);
}

/**
 * kmt_vm_count() - number of VMs tracked now
 *
 * Context: any.
 */
unsigned int kmt_vm_count(void)
{
	return READ_ONCE(kmt_nr_vms);
}

/**
 * kmt_vm_flush() - wait until every queued directory change is done
 *
 * Context: process context, not on kmt_wq.
 */
void kmt_vm_flush(void)
{
	flush_workqueue(kmt_wq);
}

/**
 * kmt_vm_init() - set up the registry
 *
 * Context: module init.
 */
int kmt_vm_init(void)
{
	kmt_wq = alloc_ordered_workqueue("kvmmemtune", 0);
	return kmt_wq ? 0 : -ENOMEM;
}

/**
 * kmt_vm_exit() - remove every VM directory and free the registry
 *
 * Context: module exit, after the hooks are gone (kmt_kvm_hooks_exit()
 * forgot every VM): nothing adds or removes VMs concurrently any more.
 */
void kmt_vm_exit(void)
{
	/* Runs the remove_work of every VM (after its add_work), then frees. */
	destroy_workqueue(kmt_wq);
	kmt_watch_exit();
	/* kmt_vm_free_rcu() and kmt_slots_free_rcu() are module code. */
	rcu_barrier();
}

/**
 * kmt_vms_lost_huge_mappings() - whether a VM lost 2M mappings since the last call
 *
 * Compares each VM's count of KVM 2M mappings with what the previous call
 * saw: a drop means huge pages behind a guest were split or reclaimed.
 *
 * Context: any; does not sleep. Only the automatic compaction work calls
 * it (it owns kmt_vm.last_map_2m).
 */
bool kmt_vms_lost_huge_mappings(void)
{
	struct kmt_vm *vm;
	bool lost = false;
	int bkt;

	rcu_read_lock();
	hash_for_each_rcu(kmt_registry, bkt, vm, node) {
		/* While !dead under kvm_lock the VM is not freed: no reference needed. */
		spin_lock(&vm->kvm_lock);
		if (!vm->dead) {
			u64 now = atomic64_read(&vm->kvm->stat.pages_2m);

			lost |= now < vm->last_map_2m;
			vm->last_map_2m = now;
		}
		spin_unlock(&vm->kvm_lock);
	}
	rcu_read_unlock();
	return lost;
}

/**
 * kmt_vm_guest_bytes_total() - sum of guest_bytes over the VMs tracked now
 *
 * Context: any; does not sleep.
 */
u64 kmt_vm_guest_bytes_total(void)
{
	struct kmt_vm *vm;
	u64 total = 0;
	int bkt;

	rcu_read_lock();
	hash_for_each_rcu(kmt_registry, bkt, vm, node) {
		struct kmt_slots *snap = rcu_dereference(vm->slots);

		if (snap)
			total += snap->guest_bytes;
	}
	rcu_read_unlock();
	return total;
}
