/* libFuzzer target: image layers are hostile input.  Each input is
 * unpacked into a fresh directory under a private scratch root; the
 * unpacker must never crash, leak or leave that directory. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unpack.h"

static char scratch[64];

static void remove_work(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s/work 2>/dev/null; rm -rf %s/work", scratch, scratch);
	if (system(cmd) != 0)
		abort();
}

static void remove_scratch(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	(void)!system(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_unpack_limits limits = { 1 << 20, 1000, 64 };
	struct sbx_unpack_stats stats = { 0 };
	struct sbx_error err = { 0 };
	char work[96];
	int layer, root;

	if (scratch[0] == '\0') {
		if (mkdtemp(strcpy(scratch, "/tmp/sbx-fuzz-XXXXXX")) == NULL)
			abort();
		atexit(remove_scratch);
	}
	snprintf(work, sizeof(work), "%s/work", scratch);
	if (mkdir(work, 0700) < 0)
		abort();
	layer = memfd_create("layer", MFD_CLOEXEC);
	if (layer < 0 || write(layer, data, size) != (ssize_t)size || lseek(layer, 0, SEEK_SET) != 0)
		abort();
	root = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	sbx_unpack_layer(root, layer, &limits, 0, &stats, &err);
	close(root);
	close(layer);
	remove_work();
	return 0;
}
