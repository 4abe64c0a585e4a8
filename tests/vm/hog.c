/* sbx-hog: the workloads of the VM's limit tests, static so that it runs in
 * the busybox test rootfs.
 *   sbx-hog mem MIB        touch MIB MiB one at a time, printing progress;
 *                          exits 0 if all of it was had
 *   sbx-hog fork N         fork up to N children that pause; prints how many
 *                          forks succeeded and exits 0 once one fails with
 *                          EAGAIN (the pids limit), 3 if none failed
 *   sbx-hog spin SECONDS   burn CPU for SECONDS of wall time; prints the CPU
 *                          time it got as "cpu_ratio=R" (CPU / wall)
 *   sbx-hog sleepers N     fork N children that pause, print "ready", pause
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mem(long mib)
{
	for (long i = 0; i < mib; i++) {
		char *p = malloc(1 << 20);

		if (p == NULL) {
			printf("malloc failed after %ld MiB\n", i);
			return 2;
		}
		memset(p, (int)(i & 0xff) | 1, 1 << 20);
		if (i % 8 == 0) {
			printf("mem %ld MiB\n", i);
			fflush(stdout);
		}
	}
	printf("mem done %ld MiB\n", mib);
	return 0;
}

static int fork_until(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			printf("forked=%ld errno=%s\n", i, strerror(errno));
			return errno == EAGAIN ? 0 : 2;
		}
	}
	printf("forked=%ld no failure\n", n);
	return 3;
}

static int spin(double seconds)
{
	double wall0 = now(CLOCK_MONOTONIC), cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
	volatile unsigned long x = 0;

	while (now(CLOCK_MONOTONIC) - wall0 < seconds)
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
	printf("cpu_ratio=%.3f\n", (now(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / (now(CLOCK_MONOTONIC) - wall0));
	return 0;
}

static int sleepers(long n)
{
	for (long i = 0; i < n; i++)
		if (fork() == 0) {
			pause();
			_exit(0);
		}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sbx-hog mem|fork|spin|sleepers N\n");
		return 64;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "mem") == 0)
		return mem(atol(argv[2]));
	if (strcmp(argv[1], "fork") == 0)
		return fork_until(atol(argv[2]));
	if (strcmp(argv[1], "spin") == 0)
		return spin(atof(argv[2]));
	if (strcmp(argv[1], "sleepers") == 0)
		return sleepers(atol(argv[2]));
	fprintf(stderr, "sbx-hog: unknown workload %s\n", argv[1]);
	return 64;
}
