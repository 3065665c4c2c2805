/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command table (commands.c): a row per subcommand, dispatched from
 * main().  A command is its own file, src/cmd/NAME.c, which defines
 * tp_cmd_NAME (its entry and the options only it takes), plus its row.
 */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

#include "src/cli/options.h"

/* The rows, in the order --help lists them, ending with { NULL }.  An
 * entry returns 0 on success (saying what it did on stderr, its result on
 * stdout with --json) or -1 with err set; main() prints the error once and
 * exits with its code. */
extern const struct tp_command tp_commands[];

/* The row of the command called name, or NULL. */
const struct tp_command *tp_command_find(const char *name);

#endif
