/* run.sbx.runtime=runsc: an OCI container handed to gVisor.
 *
 * sbx does not rebuild what runsc already is (an OCI runtime): the
 * container's commands go to runsc itself, with a state root of their own
 * (ROOT/@runsc) and the engine's arguments as given.  sbx keeps a marker,
 * its own state directory for the id with `runsc` set, so that start,
 * state, kill, exec, ps and delete find the container's runtime, list
 * shows it, and delete removes the marker after runsc's delete.
 * Where sbx never touches a cgroup v1 hierarchy (hybrid and v1 hosts),
 * runsc gets --ignore-cgroups and the limits are said to be unenforced. */
#ifndef SBX_OCI_RUNSC_H
#define SBX_OCI_RUNSC_H

#include <stdbool.h>

#include "error.h"
#include "oci_config.h"
#include "oci_runtime.h"

/* The annotation asks for runsc. */
bool sbx_oci_wants_runsc(const struct sbx_oci_config *cfg);

/* Run runsc with the global options G translates to and ARGV (the command
 * and its arguments as the engine gave them), as a child; its exit status
 * in *STATUS.  ST, the marker: the runsc create found, and whether the
 * container's network namespace is a new one (--network=none). */
int sbx_oci_runsc_run(const struct sbx_oci_globals *g, char *const argv[], const struct sbx_oci_state *st,
		      int *status, struct sbx_error *err);

/* create or run handed off: sbx's marker for ID (bundle BUNDLE, absolute),
 * then runsc with G->argv; the marker stays after a create that worked,
 * never after a run.  runsc's exit status in *STATUS. */
int sbx_oci_runsc_hand_off(const struct sbx_oci_globals *g, const struct sbx_oci_config *cfg, const char *id,
			   const char *bundle, bool keep_marker, int *status, struct sbx_error *err);

/* runsc's state root removed once it holds no container. */
void sbx_oci_runsc_tidy(const struct sbx_oci_globals *g);

/* The same, replacing sbx (execve): returns only on failure. */
int sbx_oci_runsc_exec(const struct sbx_oci_globals *g, char *const argv[], const struct sbx_oci_state *st,
		       struct sbx_error *err);

#endif
