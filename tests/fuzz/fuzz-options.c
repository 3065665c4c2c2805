/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz harness: the command line.  The input is split on NUL or newline
 * into argv; the first word is the subcommand (as main() passes it on),
 * the rest its arguments.  They go through the parsing tp_options_load()
 * runs: the command line, then the environment, the defaults and the
 * validation.  The config file it would read is left out (fuzz-config
 * drives that parser), and so is everything after: no TPM, no network.
 * The environment the options read is cleared, so a run does not depend
 * on where it runs.  Each input is parsed twice, and must parse the same
 * way both times.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/options.h"
#include "src/cmd/commands.h"

const char *const fuzz_seeds[] = {
	"enroll\n--thing-name\ngw-0001\n--region=eu-west-1\n--agent\nenv\n--agent=openssl\n--deadline\n30\n"
	"--key-handle\n0x81000003\n--key-alg\nrsa-2048\n--rsa-pss",
	"enroll\n--thing-name=gw\n--region\ncn-north-1\n--key-file\n/var/lib/tpm-provision/key.pem\n--attach-thing\n"
	"--policy\np1\n--policy\np2\n--out-dir\n/tmp/out\n--force-new-key",
	"register\n--cert\n/etc/device.pem\n--no-ca\n--status\nINACTIVE\n--thing-name\nt\n--region\nus-east-1\n"
	"--owner\nroot:root",
	"csr\n--thing-name\nfactory-7\n--out\n/tmp/d.csr\n--key-alg\necc-p384\n--tcti\nswtpm:port=2321",
	"install\n--cert\n/tmp/"
	"c.pem\n--thing-name\nx\n--region\neu-west-1\n--iot-endpoint\nabc-ats.iot.eu-west-1.amazonaws.com",
	"batch\n--csr-dir\n/srv/csrs\n--out-dir\n/srv/"
	"certs\n--region\neu-west-1\n--parallel\n4\n--rate\n2.5\n--json\n--resend-unanswered",
	"enroll\n--help",
	NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the last input parsed into options, or asked for --help (the
 * driver checks the seeds do). */
int fuzz_accepted;

/* The commands whose options are fuzzed, rows of the program's table. */
static const char *const commands[] = { "enroll", "register", "csr", "install", "batch" };

/* The words of the input, NULL-terminated, in *ret (one allocation). */
static int split(const uint8_t *data, size_t size, char ***ret)
{
	size_t i, n = 1, w = 0;
	char **argv, *text;

	for (i = 0; i < size; i++)
		n += data[i] == '\0' || data[i] == '\n';
	argv = malloc((n + 1) * sizeof(*argv) + size + 1);
	if (!argv)
		return -1;
	text = (char *)(argv + n + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	argv[w++] = text;
	for (i = 0; i < size; i++) {
		if (text[i] == '\0' || text[i] == '\n') {
			text[i] = '\0';
			argv[w++] = text + i + 1;
		}
	}
	argv[w] = NULL;
	*ret = argv;
	return (int)w;
}

/* The command line of the input parsed into *raw: tp_raw_parse_argv()'s
 * answer, or -1 for an unknown subcommand. */
static int parse(const uint8_t *data, size_t size, struct tp_raw_options *raw, struct tp_error *err)
{
	char **argv;
	size_t i;
	int argc, r = -1;

	argc = split(data, size, &argv);
	if (argc < 0)
		abort();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i]) == 0)
			*raw = (struct tp_raw_options){ .all = tp_commands, .cmd = tp_command_find(commands[i]) };
	if (raw->cmd)
		r = tp_raw_parse_argv(raw, argc, argv, err);
	/* What was parsed is copied: nothing may point into argv. */
	free(argv);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct tp_raw_options raw = { 0 }, again = { 0 };
	struct tp_options o = { 0 };
	struct tp_error err = { 0 };
	int r;

	if (!devnull) {
		unsetenv("AWS_REGION");
		unsetenv("AWS_DEFAULT_REGION");
		unsetenv("AWS_CA_BUNDLE");
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
	}
	r = parse(data, size, &raw, &err);
	/* The same words parse the same way a second time (getopt keeps
	 * state between calls). */
	if (parse(data, size, &again, &err) != r)
		abort();
	tp_raw_options_free(&again);
	if (r == TP_HELP)
		tp_options_usage(devnull, raw.cmd);
	else if (r == 0)
		r = tp_options_from_raw(&raw, &o, &err);
	fuzz_accepted = r == 0 || r == TP_HELP;
	tp_options_free(&o);
	tp_raw_options_free(&raw);
	return 0;
}
