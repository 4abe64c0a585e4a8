#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sync.h"
#include "util.h"

int sbx_loopback_up(struct sbx_error *err)
{
	cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (sock < 0)
		return sbx_fail(err, errno, "bringing up lo: socket");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return sbx_fail(err, errno, "bringing up lo: reading its flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		return sbx_fail(err, errno, "bringing up lo");
	return 0;
}

/* The maker's whole life: it runs no code of the sandbox's and holds
 * nothing but SOCK, USERNS and sbx's copy-on-write memory. */
static void netns_maker(pid_t sbx, int userns, int sock)
{
	struct sbx_error err = { 0 };
	int lo = userns < sock ? userns : sock, hi = userns < sock ? sock : userns;
	int netns;

	/* Nothing else of sbx's: not the sync socket, not the cgroup's lock. */
	close_range(3, (unsigned int)lo - 1, 0);
	close_range((unsigned int)lo + 1, (unsigned int)hi - 1, 0);
	close_range((unsigned int)hi + 1, ~0U, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != sbx) {
		sbx_fail(&err, errno, "making the network namespace: tying its maker to sbx");
	} else if (setns(userns, CLONE_NEWUSER) < 0) {
		sbx_fail(&err, errno, "making the network namespace: joining the sandbox's user namespace");
	} else if (unshare(CLONE_NEWNET) < 0) {
		sbx_fail(&err, errno, "making the network namespace");
	} else if (sbx_loopback_up(&err) < 0) {
		/* err filled */
	} else if ((netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		sbx_fail(&err, errno, "making the network namespace: opening it");
	} else if (sbx_sync_send_fd(sock, SBX_MSG_NETNS, netns) < 0) {
		_exit(SBX_EXIT_FAILURE);
	} else {
		_exit(0);
	}
	sbx_sync_send(sock, SBX_MSG_ERROR, &err);
	_exit(SBX_EXIT_FAILURE);
}

int sbx_netns_open_userns(pid_t child, struct sbx_error *err)
{
	char path[64];
	int fd;

	/* CHILD is ours and not reaped: its pid names it. */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sbx_fail(err, errno, "opening the sandbox's user namespace (%s)", path);
	return fd;
}

pid_t sbx_netns_make_beside(int userns, int sock, struct sbx_error *err)
{
	pid_t sbx = getpid(), pid = fork();

	if (pid < 0)
		return sbx_fail(err, errno, "starting the network namespace's maker");
	if (pid == 0)
		netns_maker(sbx, userns, sock);
	return pid;
}

int sbx_netns_enter(int sock, struct sbx_error *err)
{
	struct sbx_msg msg;
	cleanup_close int netns = -1;
	int r = sbx_sync_recv(sock, &msg, &netns, err);

	if (r <= 0)
		return r < 0 ? -1 : sbx_fail(err, 0, "the network namespace's maker went away");
	if (msg.type == SBX_MSG_ERROR) {
		*err = msg.error;
		return -1;
	}
	if (msg.type != SBX_MSG_NETNS || netns < 0)
		return sbx_fail(err, EPROTO, "the network namespace's maker sent no namespace");
	if (setns(netns, CLONE_NEWNET) < 0)
		return sbx_fail(err, errno, "entering the new network namespace");
	return 0;
}
