/* bitmap-check -- which syscalls the kernel may answer from its
 * constant-action bitmap under sbx's stacked filters, for
 * scripts/bench.d/30-filter.sh.
 *
 * Usage: bitmap-check PROFILE   (a name or path, as sbx run --seccomp takes)
 *
 * Since Linux 5.11 the kernel emulates each filter once per syscall number
 * (kernel/seccomp.c, seccomp_is_const_allow) and skips every BPF program for
 * a number all stacked filters allow without reading an argument.  This
 * runs the same emulation on sbx's host-safety filter H and the profile's
 * filters (B, A) for the native architecture and prints, one per line,
 * the syscalls the profile's last filter allows by number alone but that
 * are off the bitmap, with the filters that do not allow them by number
 * alone (they read an argument, or answer otherwise: H makes openat2 and
 * io_uring_setup ENOSYS):
 *     NAME<TAB>NR<TAB>H,B
 * then a line "# on the bitmap: N of M numbers". */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp_filter.h"

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* kernel/seccomp.c's emulator: anything but nr and arch, or an opcode it
 * does not know, means "not constant". */
static bool const_allow(const struct sock_fprog *p, unsigned int nr)
{
	unsigned int reg = 0;

	for (unsigned int pc = 0; pc < p->len; pc++) {
		const struct sock_filter *insn = &p->filter[pc];
		bool taken = false;

		switch (insn->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (insn->k == offsetof(struct seccomp_data, nr))
				reg = nr;
			else if (insn->k == offsetof(struct seccomp_data, arch))
				reg = NATIVE_AUDIT_ARCH;
			else
				return false;
			break;
		case BPF_RET | BPF_K:
			return insn->k == SECCOMP_RET_ALLOW;
		case BPF_JMP | BPF_JA:
			pc += insn->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K:
			switch (BPF_OP(insn->code)) {
			case BPF_JEQ:
				taken = reg == insn->k;
				break;
			case BPF_JGE:
				taken = reg >= insn->k;
				break;
			case BPF_JGT:
				taken = reg > insn->k;
				break;
			default:
				taken = (reg & insn->k) != 0;
				break;
			}
			pc += taken ? insn->jt : insn->jf;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			reg &= insn->k;
			break;
		default:
			return false;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "B", "A" };
	struct sbx_seccomp s;
	struct sbx_error err;
	int max_nr = sbx_seccomp_max_known_nr(), on = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: bitmap-check PROFILE\n");
		return 2;
	}
	memset(&err, 0, sizeof(err));
	if (sbx_seccomp_prepare(argv[1], false, &s, &err) < 0) {
		fprintf(stderr, "bitmap-check: %s\n", err.msg);
		return 1;
	}
	for (int nr = 0; nr <= max_nr; nr++) {
		const struct sock_fprog *last = s.n_filters > 0 ? &s.filters[s.n_filters - 1] : NULL;
		char who[16] = "";
		char *name;

		if (!const_allow(&s.host, (unsigned int)nr))
			strcat(who, "H");
		for (size_t i = 0; i < s.n_filters; i++)
			if (!const_allow(&s.filters[i], (unsigned int)nr))
				snprintf(who + strlen(who), sizeof(who) - strlen(who), "%s%s", *who ? "," : "",
					 s.n_filters == 1 ? "A" : names[i]);
		if (*who == '\0') {
			on++;
			continue;
		}
		/* Off the bitmap because the profile denies it or tests its
		 * arguments itself: as the profile says, nothing to report. */
		if (last != NULL && !const_allow(last, (unsigned int)nr))
			continue;
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		printf("%s\t%d\t%s\n", name != NULL ? name : "?", nr, who);
		free(name);
	}
	printf("# on the bitmap: %d of %d numbers\n", on, max_nr + 1);
	sbx_seccomp_free(&s);
	return 0;
}
