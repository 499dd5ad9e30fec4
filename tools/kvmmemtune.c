// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmemtune - the per-VM memory picture of a KVM host, from
 * /sys/kernel/kvmmemtune: tables for humans, JSON for scripts, the
 * Prometheus text format for node_exporter, and the policy knobs.
 *
 * Exit codes: see enum in kmt.h (0 ok, 1 usage, 2 module not loaded,
 * 3 permission denied, 4 other error, 5 no such VM, 6 module too old).
 */
#include <stdarg.h>
#include <string.h>

#include "kvmmemtune.h"
#include "kmt.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool json;
	const char *synopsis;
	const char *brief;
	const char *help;
};

static const struct command commands[] = {
	{ "list", cmd_list, true, "list",
	  "one line per VM (the default)",
	  "One line per VM: id (its directory in vms/), pid, name (QEMU's -name, else the\n"
	  "command name), guest size, resident memory (last scan, else the process's\n"
	  "anonymous RSS), THP-backed share of the scanned memory, share of KVM's mapped\n"
	  "bytes in 2M/1G mappings, swap, the NUMA node holding most (after a scan) and\n"
	  "memory reclaimed from the VM (once the module reports it). '-' is unknown.\n"
	  "The default command.\n" },
	{ "show", cmd_show, true, "show VM",
	  "everything about one VM",
	  "Everything about one VM (VM: id, pid or name): a summary, the THP policy,\n"
	  "the share of resident memory off its main NUMA node, whether dirty logging\n"
	  "is on for any memslot (live migration), every stat key, and the memslots\n"
	  "with their figures from the last scan.\n" },
	{ "host", cmd_host, true, "host",
	  "overcommit and host-wide figures",
	  "Host-wide: overcommit (guest memory of all VMs against MemTotal), every\n"
	  "line of host/stat, and host/fragmentation where the module has it.\n" },
	{ "watch", cmd_watch, false, "watch [-i SECONDS] [-n COUNT]",
	  "the list, redrawn, with rates",
	  "The list, redrawn every SECONDS (default 2) until Ctrl-C (or COUNT times),\n"
	  "with the change of resident memory and the reclaim rate per second.\n" },
	{ "export", cmd_export, false, "export",
	  "Prometheus text format",
	  "All figures in the Prometheus text exposition format, for node_exporter's\n"
	  "textfile collector, e.g. every minute from cron:\n"
	  "  kvmmemtune export > /var/lib/node_exporter/kvmmemtune.prom.tmp &&\n"
	  "  mv /var/lib/node_exporter/kvmmemtune.prom.tmp /var/lib/node_exporter/kvmmemtune.prom\n"
	  "Per-VM metrics carry vm, pid and name labels; scan figures appear once a VM\n"
	  "was scanned.\n" },
	{ "get", cmd_get, false, "get KNOB | get thp VM",
	  "print a policy knob or a VM's thp mode",
	  "Print a policy knob (a file in policy/, e.g. thp_default) or a VM's thp mode.\n" },
	{ "set", cmd_set, false, "set KNOB VALUE | set thp VALUE VM",
	  "set a policy knob or a VM's thp mode",
	  "Set a policy knob or a VM's thp mode (inherit, never; advised on 6.18+).\n"
	  "A VM's thp mode is its process's: it covers every VM of that process.\n" },
	{ "scan", cmd_scan, false, "scan VM|all",
	  "scan a VM's memory now",
	  "Scan the VM's memory now (page tables only: nothing is faulted in) and print\n"
	  "the new scan age, its duration, resident and THP-backed memory.\n" },
	{ "compact", cmd_compact, false, "compact NODE|all",
	  "compact a node's memory now",
	  "Compact memory of a NUMA node, or of all nodes, now (needs a module with\n"
	  "policy/compact).\n" },
	{ "collapse", cmd_collapse, false, "collapse VM",
	  "collapse a VM's memory into huge pages",
	  "Collapse the VM's memory into transparent huge pages: MADV_COLLAPSE through\n"
	  "process_madvise over its address-space-0 memslots, 64 MiB at a time, with\n"
	  "progress on a terminal. Prints the THP-backed memory before and after (a scan\n"
	  "each). Fails if THP is disabled for the VM's process.\n" },
	{ "version", cmd_version, false, "version",
	  "tool and module versions",
	  "Versions of the tool and of the loaded module.\n" },
	{ "help", cmd_help, false, "help [COMMAND]",
	  "this text, or a command's", "This text, or a command's.\n" },
};

#define NR_COMMANDS ARRAY_SIZE(commands)

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: kvmmemtune [-b] [--json] [COMMAND [ARGS]]\n\n"
		"Per-VM memory of this KVM host, from %s.\n\ncommands:\n", kmt_root());
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-34s %s\n", commands[i].synopsis, commands[i].brief);
	fprintf(f, "\nVM is an id (<pid>-<seq>, as list shows), a pid or a name.\n\n"
		"options (before or after the command):\n"
		"  -b          sizes in bytes\n"
		"  --json      JSON output (list, show, host)\n"
		"  -h, --help  this text; with a command, that command's help\n\n"
		"exit codes: 0 ok, 1 usage error or value refused, 2 module not loaded,\n"
		"  3 permission denied (run as root), 4 other error, 5 no such VM (or\n"
		"  ambiguous), 6 module or kernel too old for the feature\n\n"
		"environment: KVMMEMTUNE_SYSFS replaces %s\n"
		"See kvmmemtune help COMMAND and kvmmemtune(8).\n", KMT_SYSFS_ROOT);
}

static void command_help(FILE *f, const struct command *c)
{
	fprintf(f, "usage: kvmmemtune %s%s\n\n%s", c->json ? "[--json] " : "", c->synopsis,
		c->help);
}

int kmt_usage_err(const char *cmd, const char *fmt, ...)
{
	const struct command *c = cmd ? find_command(cmd) : NULL;
	va_list ap;

	fprintf(stderr, "%s: ", kmt_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c)
		fprintf(stderr, "usage: kvmmemtune %s (kvmmemtune help %s)\n", c->synopsis, cmd);
	return KMT_EXIT_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (argc > 2)
		return kmt_usage_err("help", "too many arguments");
	c = find_command(argv[1]);
	if (!c)
		return kmt_usage_err("help", "unknown command '%s'", argv[1]);
	command_help(stdout, c);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	char path[512], buf[64];
	int err;

	if (argc > 1)
		return kmt_usage_err("version", "unexpected argument '%s'", argv[1]);
	printf("tool %s\n", KMT_VERSION);
	kmt_path(path, sizeof(path), "%s/version", kmt_root());
	err = kmt_read_small(path, buf, sizeof(buf));
	if (err)
		return kmt_check_module() ?: kmt_fail(path, -err);
	printf("module %s", buf);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c = NULL;
	char *args[64];
	bool help = false, opts = true;
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			help = true;
		} else if (opts && !strcmp(a, "-b")) {
			kmt_human = false;
		} else if (opts && !strcmp(a, "--json")) {
			kmt_json_out = true;
		} else if (opts && a[0] == '-' && !n) {
			fprintf(stderr, "%s: unknown option '%s'\n", kmt_prog, a);
			usage(stderr);
			return KMT_EXIT_USAGE;
		} else if (n == (int)ARRAY_SIZE(args)) {
			return kmt_usage_err(NULL, "too many arguments");
		} else {
			args[n++] = argv[i];	/* command options (-i, -n) go to the command */
		}
	}
	if (!n) {
		if (help) {
			usage(stdout);
			return 0;
		}
		args[n++] = "list";
	}
	c = find_command(args[0]);
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s'\n", kmt_prog, args[0]);
		usage(stderr);
		return KMT_EXIT_USAGE;
	}
	if (help) {
		command_help(stdout, c);
		return 0;
	}
	if (kmt_json_out && !c->json)
		return kmt_usage_err(c->name,
				     "--json is not available for %s (list, show, host have it)",
				     c->name);
	args[n] = NULL;
	return c->fn(n, args);
}
