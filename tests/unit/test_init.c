#include <signal.h>

#include "init.h"
#include "unit.h"

void test_init(void)
{
	siginfo_t info = { 0 };

	/* kill() by sbx, from outside the pid namespace. */
	info.si_code = SI_USER;
	info.si_pid = 0;
	CHECK(sbx_init_signal_from_sbx(&info));
	/* kill() from inside: the kernel fills in the sender's pid. */
	info.si_pid = 7;
	CHECK(!sbx_init_signal_from_sbx(&info));
	/* rt_sigqueueinfo from inside with a forged sender pid 0: the kernel
	 * lets only negative codes through for another process. */
	info.si_pid = 0;
	for (int code = SI_QUEUE; code > SI_QUEUE - 8; code--) {
		info.si_code = code;
		CHECK(!sbx_init_signal_from_sbx(&info));
	}
	info.si_code = SI_TKILL;
	CHECK(!sbx_init_signal_from_sbx(&info));
}
