/* The option table, shared by the parsers (options.c) and the validation
 * (typed.c) inside the cli module. */
#ifndef TP_OPTDEFS_H
#define TP_OPTDEFS_H

#include <stdbool.h>
#include <stdio.h>

#include "src/cli/options.h"

enum opt_kind {
	KIND_STRING,
	KIND_HANDLE, /* a string, or a JSON number */
	KIND_NUMBER, /* a string on the command line, a number (or string) in JSON */
	KIND_FLAG,   /* no value on the command line, true/false in JSON */
	KIND_LIST,   /* repeatable; a string or an array of strings in JSON */
};

struct opt_def {
	const char *name;
	const char *arg; /* placeholder in the usage text */
	enum opt_kind kind;
	unsigned cmds; /* enum tp_cmd bits */
	bool cli_only; /* a one-off action, not a setting for a file */
	const char *help;
	/* Instead of help, for a value out of a table (the key algorithms,
	 * the agents): the text made from the table, so it never lags. */
	void (*print_help)(FILE *f);
};

extern const struct opt_def tp_opt_defs[TP_OPT__COUNT];

/* Set raw value opt from origin, taking str (or items). */
void tp_raw_set(struct tp_raw_value *v, enum tp_origin origin, char *str, char **items);

#endif
