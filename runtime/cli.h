/* The command line: main.c (run, version, help) and cli_image.c (image).
 * These are the only places that print, and they choose the exit status. */
#ifndef SBX_CLI_H
#define SBX_CLI_H

#include "error.h"

/* Print ERR as "sbx: ..." on stderr and return its exit status. */
int sbx_cli_fail(const struct sbx_error *err);

/* `sbx image ...`: ARGV starts after "image". */
int sbx_cli_image(int argc, char *argv[]);

#endif
