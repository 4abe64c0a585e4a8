/* `sbx image`: import, ls, inspect, rm, gc, unpack. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "imagens.h"
#include "import.h"
#include "store.h"
#include "unpack.h"
#include "util.h"

static const char usage_image[] =
	"Usage: sbx image COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  import [--name NAME[:TAG]] PATH   import an OCI image layout, an OCI archive\n"
	"                           (skopeo ... oci-archive:) or a docker archive\n"
	"                           (docker save); prints NAME:TAG and the image id\n"
	"  ls                       list the stored images\n"
	"  inspect NAME[:TAG]       the image's record as JSON\n"
	"  rm NAME[:TAG]...         remove images (and the trees only they used)\n"
	"  gc                       remove unused trees and leftovers of interrupted imports\n"
	"  unpack DIR LAYER...      apply layers (tar, tar+gzip, tar+zstd) onto DIR\n"
	"\n"
	"Options:\n"
	"      --store DIR          the image store (default: $SBX_STORE, else\n"
	"                           /var/lib/sbx as root, else $XDG_DATA_HOME/sbx)\n"
	"      --json               import, ls: print JSON\n"
	"      --max-bytes SIZE     import, unpack: refuse layers that unpack to more\n"
	"                           (default 16g)\n"
	"      --max-entries N      refuse more entries than N (default 1000000)\n"
	"      --max-depth N        refuse paths deeper than N (default 256)\n"
	"      --owners             unpack: apply the entries' owners (as far as sbx may)\n"
	"      --keep-setuid        unpack: keep the setuid/setgid bits of files (dropped\n"
	"                           by default: on the host they would work)\n"
	"  -v, --verbose            say what was done\n"
	"\n"
	"Every blob is checked against its digest and size, and every layer against\n"
	"the config's diff_ids, before anything is unpacked.  Exit status: 0; 65 when\n"
	"an image is refused (malformed, hostile, digests do not match, limits);\n"
	"66 when an image or input does not exist; 125 when sbx failed otherwise.\n";

struct image_opts {
	const char *store;
	const char *name;
	bool json, verbose, owners, keep_setid;
	struct sbx_unpack_limits limits;
	char **args; /* the operands */
	int n_args;
};

static int parse_count(const char *opt, const char *arg, uint64_t *out, struct sbx_error *err)
{
	uint32_t n;

	if (arg == NULL || sbx_parse_id(arg, &n) < 0 || n == 0)
		return sbx_fail(err, 0, "%s: expected a positive number", opt);
	*out = n;
	return 0;
}

/* Options may come before and between the operands; "--" ends them. */
static int parse_image_opts(int argc, char *argv[], struct image_opts *o, struct sbx_error *err)
{
	uint64_t depth = 0;
	bool operands_only = false;

	memset(o, 0, sizeof(*o));
	o->limits = SBX_UNPACK_DEFAULT_LIMITS;
	o->args = calloc((size_t)argc + 1, sizeof(*o->args));
	if (o->args == NULL)
		return sbx_fail(err, ENOMEM, "parsing options");
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (operands_only || w[0] != '-' || strcmp(w, "-") == 0) {
			o->args[o->n_args++] = argv[i];
		} else if (strcmp(w, "--") == 0) {
			operands_only = true;
		} else if (strcmp(w, "--store") == 0 || strcmp(w, "--name") == 0) {
			if (arg == NULL)
				return sbx_fail(err, 0, "%s needs a value", w);
			*(w[2] == 's' ? &o->store : &o->name) = arg;
			i++;
		} else if (strcmp(w, "--max-bytes") == 0) {
			if (arg == NULL || sbx_parse_size(arg, &o->limits.max_bytes) < 0)
				return sbx_fail(err, 0, "--max-bytes: expected a size such as 4g");
			i++;
		} else if (strcmp(w, "--max-entries") == 0) {
			if (parse_count(w, arg, &o->limits.max_entries, err) < 0)
				return -1;
			i++;
		} else if (strcmp(w, "--max-depth") == 0) {
			if (parse_count(w, arg, &depth, err) < 0)
				return -1;
			o->limits.max_depth = (unsigned int)depth;
			i++;
		} else if (strcmp(w, "--json") == 0) {
			o->json = true;
		} else if (strcmp(w, "--owners") == 0) {
			o->owners = true;
		} else if (strcmp(w, "--keep-setuid") == 0) {
			o->keep_setid = true;
		} else if (strcmp(w, "-v") == 0 || strcmp(w, "--verbose") == 0) {
			o->verbose = true;
		} else if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0) {
			return 1;
		} else {
			return sbx_fail(err, 0, "unknown option '%s' (see sbx image --help)", w);
		}
	}
	return 0;
}

/* Termination signals wait while the store changes: the work runs in a
 * child that is killed on one, and what it left is removed before sbx
 * exits (see imagens.h). */
static void block_termination(void)
{
	sigset_t s;

	sbx_imagens_stop_signals(&s);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

static void show_progress(const struct sbx_import_progress *p, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "\rsbx: %s layer %zu/%zu, %.1f MiB ", p->phase, p->layer, p->layers,
		(double)p->bytes / (1 << 20));
}

static int print_json_text(const char *text)
{
	fputs(text, stdout);
	return fflush(stdout) == 0 ? 0 : SBX_EXIT_FAILURE;
}

static int gen_print(yajl_gen g);

/* The record, with what this import did. */
static int print_import_json(struct sbx_import_result *res)
{
	struct sbx_error err = { 0 };
	sbx_json *doc = NULL;
	yajl_gen g = yajl_gen_alloc(NULL);
	int r = SBX_EXIT_FAILURE;

	if (g != NULL && sbx_json_parse(res->record, "the record", &doc, &err) == 0) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < sbx_json_object_size(doc); i++)
			sbx_json_gen_value(g, sbx_json_object_key(doc, i), sbx_json_get(doc, sbx_json_object_key(doc, i)));
		sbx_json_gen_str(g, "rootfs", res->rootfs);
		sbx_json_gen_uint(g, "layers_unpacked", res->layers_unpacked);
		sbx_json_gen_uint(g, "layers_reused", res->layers_reused);
		sbx_json_gen_uint(g, "entries", res->stats.entries);
		sbx_json_gen_uint(g, "bytes", res->stats.bytes);
		sbx_json_gen_uint(g, "whiteouts", res->stats.whiteouts);
		sbx_json_gen_uint(g, "devices_skipped", res->stats.devices_skipped);
		yajl_gen_map_close(g);
		r = gen_print(g);
	} else if (err.msg[0]) {
		r = sbx_cli_fail(&err);
	}
	if (g != NULL)
		yajl_gen_free(g);
	sbx_json_free(doc);
	free(res->record);
	return r;
}

static int cmd_import(struct image_opts *o)
{
	struct sbx_import_options io = { .name = o->name, .store = o->store, .limits = o->limits };
	struct sbx_import_result res;
	struct sbx_error err = { 0 };
	bool tty = isatty(STDERR_FILENO);
	int r;

	if (o->n_args != 1) {
		sbx_fail(&err, 0, "expected one PATH to import (see sbx image --help)");
		return sbx_cli_fail(&err);
	}
	io.path = o->args[0];
	if (tty) {
		io.progress = show_progress;
	}
	block_termination();
	r = sbx_image_import(&io, &res, &err);
	if (tty)
		fputs("\r\033[K", stderr);
	if (r < 0) {
		free(res.record);
		return sbx_cli_fail(&err);
	}
	if (o->verbose)
		fprintf(stderr,
			"sbx: %zu layers, %zu unpacked, %zu reused; %llu entries, %llu bytes, %llu whiteouts; "
			"skipped %llu device nodes or sockets\n",
			res.layers, res.layers_unpacked, res.layers_reused, (unsigned long long)res.stats.entries,
			(unsigned long long)res.stats.bytes, (unsigned long long)res.stats.whiteouts,
			(unsigned long long)res.stats.devices_skipped);
	if (o->json)
		return print_import_json(&res);
	printf("%s:%s sha256:%s\n", res.ref.name, res.ref.tag, res.id_hex);
	free(res.record);
	return fflush(stdout) == 0 ? 0 : SBX_EXIT_FAILURE;
}

static int open_store(struct image_opts *o, bool create, struct sbx_store *s, struct sbx_error *err)
{
	if (sbx_store_open(o->store, create, s, err) < 0) {
		if (err->status == SBX_EXIT_IMAGE_MISSING)
			sbx_error_hint(err, "import an image first (sbx image import, or rootfs/build)");
		return -1;
	}
	return 0;
}

struct ls_ctx {
	bool json;
	bool first;
	yajl_gen g;
};

static int ls_one(struct sbx_store *s, struct sbx_image_record *rec, void *ctx)
{
	struct ls_ctx *c = ctx;
	const char *created = sbx_json_string(sbx_json_get(rec->doc, "created"));
	uint64_t size = 0;

	if (c->json)
		return sbx_store_record_json(s, rec, c->g);
	sbx_json_uint64(sbx_json_get(rec->doc, "size"), &size);
	printf("%-30s %-12s %-12.12s %9.1fM %s\n", rec->name, rec->tag, rec->id + strlen("sha256:"),
	       (double)size / (1 << 20), created ? created : "-");
	return 0;
}

static int gen_print(yajl_gen g)
{
	struct sbx_error err = { 0 };
	char *text;
	int r;

	if (sbx_json_gen_text(g, &text, &err) < 0)
		return sbx_cli_fail(&err);
	r = print_json_text(text);
	free(text);
	return r;
}

static int cmd_ls(struct image_opts *o)
{
	struct sbx_store s;
	struct sbx_error err = { 0 };
	struct ls_ctx c = { .json = o->json, .first = true };
	int r;

	if (o->n_args != 0) {
		sbx_fail(&err, 0, "ls takes no operands");
		return sbx_cli_fail(&err);
	}
	if (sbx_store_open(o->store, false, &s, &err) < 0) {
		if (err.status != SBX_EXIT_IMAGE_MISSING)
			return sbx_cli_fail(&err);
		/* No store yet: no images. */
		if (o->json)
			puts("[]");
		return 0;
	}
	if (o->json) {
		c.g = yajl_gen_alloc(NULL);
		if (c.g == NULL) {
			sbx_store_close(&s);
			return SBX_EXIT_FAILURE;
		}
		yajl_gen_array_open(c.g);
	} else {
		printf("%-30s %-12s %-12s %10s %s\n", "NAME", "TAG", "ID", "SIZE", "CREATED");
	}
	r = sbx_store_each_record(&s, ls_one, &c, &err);
	sbx_store_close(&s);
	if (r < 0) {
		if (c.g)
			yajl_gen_free(c.g);
		return sbx_cli_fail(&err);
	}
	if (o->json) {
		yajl_gen_array_close(c.g);
		r = gen_print(c.g);
		yajl_gen_free(c.g);
		return r;
	}
	return fflush(stdout) == 0 ? 0 : SBX_EXIT_FAILURE;
}

static int cmd_inspect(struct image_opts *o)
{
	struct sbx_store s = { .dirfd = -1, .lockfd = -1 };
	struct sbx_error err = { 0 };
	struct sbx_image_ref ref;
	struct sbx_image_record rec = { 0 };
	yajl_gen g;
	int r;

	if (o->n_args != 1) {
		sbx_fail(&err, 0, "expected one NAME[:TAG] to inspect");
		return sbx_cli_fail(&err);
	}
	if (sbx_image_ref_parse(o->args[0], &ref, &err) < 0 || open_store(o, false, &s, &err) < 0 ||
	    sbx_store_read_record(&s, &ref, &rec, &err) < 0) {
		sbx_store_close(&s);
		return sbx_cli_fail(&err);
	}
	g = yajl_gen_alloc(NULL);
	if (g == NULL) {
		r = SBX_EXIT_FAILURE;
	} else {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		sbx_store_record_json(&s, &rec, g);
		r = gen_print(g);
		yajl_gen_free(g);
	}
	sbx_image_record_free(&rec);
	sbx_store_close(&s);
	return r;
}

static void print_removed(const char *what, const struct sbx_error *problem, void *ctx)
{
	bool *verbose = ctx;

	if (problem != NULL)
		fprintf(stderr, "sbx: could not remove %s: %s\n", what, problem->msg);
	else if (*verbose)
		printf("removed %s\n", what);
}

static int cmd_rm(struct image_opts *o)
{
	struct sbx_store s = { .dirfd = -1, .lockfd = -1 };
	struct sbx_error err = { 0 };
	bool quiet = false;
	int status = 0;

	if (o->n_args == 0) {
		sbx_fail(&err, 0, "expected NAME[:TAG] to remove");
		return sbx_cli_fail(&err);
	}
	block_termination();
	if (open_store(o, false, &s, &err) < 0)
		return sbx_cli_fail(&err);
	for (int i = 0; i < o->n_args; i++) {
		struct sbx_image_ref ref;
		int r = sbx_image_ref_parse(o->args[i], &ref, &err);

		if (r == 0 && sbx_store_lock(&s, &err) == 0) {
			r = sbx_store_remove_record(&s, &ref, &err);
			sbx_store_unlock(&s);
		} else {
			r = -1;
		}
		if (r < 0) {
			status = sbx_cli_fail(&err);
			continue;
		}
		printf("removed %s:%s\n", ref.name, ref.tag);
	}
	if (sbx_store_gc(&s, print_removed, o->verbose ? &o->verbose : &quiet, &err) < 0)
		status = sbx_cli_fail(&err);
	sbx_store_close(&s);
	return status;
}

static int cmd_gc(struct image_opts *o)
{
	struct sbx_store s = { .dirfd = -1, .lockfd = -1 };
	struct sbx_error err = { 0 };
	bool say = true;
	int r;

	if (o->n_args != 0) {
		sbx_fail(&err, 0, "gc takes no operands");
		return sbx_cli_fail(&err);
	}
	block_termination();
	if (sbx_store_open(o->store, false, &s, &err) < 0)
		return err.status == SBX_EXIT_IMAGE_MISSING ? 0 : sbx_cli_fail(&err);
	r = sbx_store_gc(&s, print_removed, &say, &err);
	sbx_store_close(&s);
	return r < 0 ? sbx_cli_fail(&err) : 0;
}

static int cmd_unpack(struct image_opts *o)
{
	struct sbx_unpack_stats stats = { 0 };
	struct sbx_error err = { 0 };
	int root;

	if (o->n_args < 2) {
		sbx_fail(&err, 0, "expected DIR and at least one LAYER (see sbx image --help)");
		return sbx_cli_fail(&err);
	}
	root = open(o->args[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		sbx_fail(&err, errno, "%s", o->args[0]);
		return sbx_cli_fail(&err);
	}
	for (int l = 1; l < o->n_args; l++) {
		int fd = open(o->args[l], O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			sbx_fail(&err, errno, "layer %s", o->args[l]);
		else if (sbx_unpack_layer(root, fd, &o->limits,
					  (o->owners ? SBX_UNPACK_OWNERS : 0) | (o->keep_setid ? SBX_UNPACK_SETID : 0),
					  &stats, &err) < 0)
			sbx_error_wrap(&err, "layer %s", o->args[l]);
		if (fd >= 0)
			close(fd);
		if (err.msg[0] != '\0') {
			close(root);
			return sbx_cli_fail(&err);
		}
	}
	close(root);
	if (o->verbose)
		fprintf(stderr,
			"sbx: unpacked %llu entries, %llu bytes, %llu whiteouts; skipped %llu device "
			"nodes or sockets and the extended attributes of %llu entries; dropped the setuid/setgid "
			"bits of %llu files\n",
			(unsigned long long)stats.entries, (unsigned long long)stats.bytes,
			(unsigned long long)stats.whiteouts, (unsigned long long)stats.devices_skipped,
			(unsigned long long)stats.xattrs_skipped, (unsigned long long)stats.setid_stripped);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct image_opts *);
} commands[] = {
	{ "import", cmd_import }, { "ls", cmd_ls }, { "list", cmd_ls }, { "inspect", cmd_inspect },
	{ "rm", cmd_rm },         { "gc", cmd_gc }, { "unpack", cmd_unpack },
};

int sbx_cli_image(int argc, char *argv[])
{
	struct image_opts o;
	struct sbx_error err = { 0 };
	int r;

	if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "help") == 0) {
		fputs(usage_image, argc == 0 ? stderr : stdout);
		return argc == 0 ? SBX_EXIT_FAILURE : 0;
	}
	for (size_t i = 0; i < SBX_ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		r = parse_image_opts(argc - 1, argv + 1, &o, &err);
		if (r == 1) {
			fputs(usage_image, stdout);
			r = 0;
		} else if (r < 0) {
			r = sbx_cli_fail(&err);
		} else {
			r = commands[i].fn(&o);
		}
		free(o.args);
		return r;
	}
	sbx_fail(&err, 0, "unknown image command '%.64s' (see sbx image --help)", argv[0]);
	return sbx_cli_fail(&err);
}
