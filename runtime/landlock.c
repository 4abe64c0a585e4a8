#include "landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Rights and fields newer than this system's headers. */
#define FS_REFER (1ULL << 13)     /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */

struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

#define FS_READ (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

/* Device nodes the command may write to and use ioctls on. */
static const char *const devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts",
};

int sbx_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static uint64_t handled_fs(int abi)
{
	uint64_t fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* the 13 rights of ABI 1 */

	if (abi >= 2)
		fs |= FS_REFER;
	if (abi >= 3)
		fs |= FS_TRUNCATE;
	if (abi >= 5)
		fs |= FS_IOCTL_DEV;
	return fs;
}

static int add_path(int ruleset, const char *path, uint64_t access, uint64_t handled,
		    struct sbx_error *err)
{
	struct landlock_path_beneath_attr rule = { 0 };
	cleanup_close int fd = open(path, O_PATH | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return errno == ENOENT ? 0 : sbx_fail(err, errno, "landlock: opening %s", path);
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	rule.allowed_access = access & handled;
	rule.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
		return sbx_fail(err, errno, "landlock: a rule for %s", path);
	return 0;
}

int sbx_landlock_apply(int abi, const char *const *writable, size_t n_writable,
		       struct sbx_error *err)
{
	struct ruleset_attr attr = { .handled_access_fs = handled_fs(abi) };
	size_t attr_size = abi >= 6 ? sizeof(attr) : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
	const uint64_t dev_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				    LANDLOCK_ACCESS_FS_READ_DIR | FS_TRUNCATE | FS_IOCTL_DEV;
	cleanup_close int ruleset = -1;

	if (abi >= 6)
		attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0)
		return sbx_fail(err, errno, "landlock: creating the ruleset (ABI %d)", abi);
	if (add_path(ruleset, "/", FS_READ, attr.handled_access_fs, err) < 0)
		return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(devices); i++)
		if (add_path(ruleset, devices[i], dev_access, attr.handled_access_fs, err) < 0)
			return -1;
	for (size_t i = 0; i < n_writable; i++)
		if (add_path(ruleset, writable[i], attr.handled_access_fs, attr.handled_access_fs, err) < 0)
			return -1;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return sbx_fail(err, errno, "landlock: restricting the command");
	return 0;
}
