/* The subcommands, one file each, dispatched from main(). */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

#include "src/base/err.h"

/* Each returns 0 on success (saying what it did on stderr; what was asked
 * for, such as --json results, goes to stdout) or -1 with err set; main()
 * prints the error once and exits with its code. */
int cmd_enroll(int argc, char **argv, struct tp_error *err);
int cmd_register(int argc, char **argv, struct tp_error *err);
int cmd_csr(int argc, char **argv, struct tp_error *err);
int cmd_install(int argc, char **argv, struct tp_error *err);
int cmd_batch(int argc, char **argv, struct tp_error *err);
int cmd_status(int argc, char **argv, struct tp_error *err);
int cmd_check(int argc, char **argv, struct tp_error *err);

#endif
