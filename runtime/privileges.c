#include "privileges.h"

#include <errno.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int sbx_lock_privileges(struct sbx_error *err)
{
	/* NOROOT: uid 0 gains nothing at execve.  NO_SETUID_FIXUP: the
	 * kernel does not juggle sets on uid changes (sbx empties them
	 * itself).  NO_CAP_AMBIENT_RAISE.  Each locked for good. */
	const unsigned int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	const struct rlimit no_core = { 0, 0 };

	for (cap_value_t cap = 0; cap <= cap_max_bits() - 1; cap++)
		if (cap_drop_bound(cap) < 0 && errno != EINVAL)
			return sbx_fail(err, errno, "clearing capability %d from the bounding set", cap);
	if (cap_set_secbits(bits) < 0)
		return sbx_fail(err, errno, "locking the securebits");
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return sbx_fail(err, errno, "setting RLIMIT_CORE to 0");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "setting no_new_privs");
	return 0;
}

int sbx_drop_capabilities(struct sbx_error *err)
{
	cap_t none = cap_init();
	int r = 0;

	if (none == NULL || cap_set_proc(none) < 0)
		r = sbx_fail(err, errno, "dropping capabilities");
	else if (cap_reset_ambient() < 0 && errno != EINVAL)
		r = sbx_fail(err, errno, "clearing the ambient capabilities");
	cap_free(none);
	return r;
}
