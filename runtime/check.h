/* `sbx check`: trials of what this host lets sbx enforce. */
#ifndef SBX_CHECK_H
#define SBX_CHECK_H

#include "error.h"

/* Run every check and print the report (ARGV after "check"): returns 0
 * for full isolation, 1 degraded, 2 unusable; -1 with ERR on bad usage. */
int sbx_check_main(int argc, char *argv[], struct sbx_error *err);

#endif
