/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tpm-provision: give a device its AWS IoT identity from its TPM.
 *
 * main() only dispatches to a subcommand and prints the one error line that
 * travels up from it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "src/cmd/commands.h"
#include "src/cmd/jsonout.h"
#include "src/base/err.h"
#include "src/base/spell.h"
#include "src/cmd/log.h"

/* --json on the command line: the failure as JSON on stdout too. */
static bool wants_json(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

static void usage(FILE *f)
{
	const struct tp_command *c;

	fprintf(f, "usage: tpm-provision COMMAND [options]\n\ncommands:\n");
	for (c = tp_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\n'tpm-provision COMMAND --help' lists a command's options.\n");
}

/* The one error line: control characters (from user input or the service)
 * are escaped, so the line stays one line and cannot drive a terminal. */
static void print_error(const char *command, const char *msg)
{
	fprintf(stderr, "%stpm-provision%s%s: ", tp_prio(TP_PRIO_ERR), *command ? " " : "", command);
	tp_log_escaped(stderr, msg);
	fputc('\n', stderr);
}

/* The command closest to a misspelt name, or NULL. */
static const struct tp_command *closest(const char *name)
{
	const struct tp_command *c;

	for (c = tp_commands; c->name; c++)
		if (tp_close_enough(name, c->name))
			return c;
	return NULL;
}

/* An unknown command (after "help", for help): a usage error, with the
 * closest command. */
static int unknown_command(const char *help, const char *name)
{
	const struct tp_command *near = closest(name);
	struct tp_error err = { 0 };

	if (near)
		tp_error_record(&err, EX_USAGE, "unknown command \"%.200s\": did you mean %s?", name, near->name);
	else
		tp_error_record(&err, EX_USAGE, "unknown command \"%.200s\" (tpm-provision --help lists them)", name);
	print_error(help, err.msg);
	return EX_USAGE;
}

/* "help COMMAND" is "COMMAND --help"; "help" alone lists the commands. */
static int help(int argc, char **argv)
{
	const struct tp_command *sub;
	struct tp_error err = { 0 };

	if (argc < 3) {
		usage(stdout);
		return 0;
	}
	if (argc > 3) {
		print_error("help", "one command at a time: tpm-provision help COMMAND");
		return EX_USAGE;
	}
	sub = tp_command_find(argv[2]);
	if (!sub)
		return unknown_command("help", argv[2]);
	return sub->impl->run(sub, 2, (char *[]){ argv[2], (char *)"--help", NULL }, &err) == 0 ? 0 : EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	const struct tp_command *sub;
	struct tp_error err = { 0 };

	/* Files get explicit modes; anything else is private.  No core dump:
	 * it could hold the AWS secret. */
	umask(077);
	prctl(PR_SET_DUMPABLE, 0);
	/* Lines in the order they happen, also into a pipe or the journal. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc, argv);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("tpm-provision %s\n", PACKAGE_VERSION);
		return 0;
	}
	sub = tp_command_find(argv[1]);
	if (sub) {
		if (sub->impl->run(sub, argc - 1, argv + 1, &err) == 0)
			return 0;
		print_error(sub->name, err.msg[0] ? err.msg : "failed");
		if (!sub->own_json && wants_json(argc, argv))
			tp_jsonout_error(sub->name, err.exit_code ? err.exit_code : EX_SOFTWARE, err.msg);
		return err.exit_code ? err.exit_code : EX_SOFTWARE;
	}
	return unknown_command("", argv[1]);
}
