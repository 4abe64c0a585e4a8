#include <stdlib.h>

#include "digest.h"
#include "oci.h"
#include "store.h"
#include "unit.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DESC(type) "{\"mediaType\":\"" type "\",\"digest\":\"sha256:" H64 "\",\"size\":12}"
#define CFG "application/vnd.oci.image.config.v1+json"
#define GZ "application/vnd.oci.image.layer.v1.tar+gzip"

static void test_digests(void)
{
	char hex[SBX_SHA256_HEX + 1];
	struct sbx_error err = { 0 };

	CHECK(sbx_digest_parse("sha256:" H64, hex) == 0);
	CHECK_STR(hex, H64);
	CHECK(sbx_digest_parse("sha256:" H64 "0", hex) < 0);
	CHECK(sbx_digest_parse("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", hex) < 0);
	CHECK(sbx_digest_parse("sha512:" H64, hex) < 0);
	CHECK(sbx_digest_parse("sha256:../../../../etc/passwd/0123456789abcdef0123456789abcdef01234", hex) < 0);
	CHECK(sbx_digest_parse(NULL, hex) < 0);
	/* sha256("abc"), FIPS 180-2. */
	CHECK(sbx_sha256_data("abc", 3, hex, &err) == 0);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_documents(void)
{
	struct sbx_oci_manifest m;
	struct sbx_oci_index x;
	struct sbx_oci_image_config c;
	struct sbx_docker_manifest d;
	struct sbx_error err = { 0 };

	CHECK(sbx_oci_parse_manifest("{\"schemaVersion\":2,\"config\":" DESC(CFG) ",\"layers\":[" DESC(GZ) "]}", "m",
				     &m, &err) == 0);
	CHECK(m.n_layers == 1 && m.layers[0].size == 12);
	sbx_oci_manifest_free(&m);
	/* One document, two readings (CVE-2021-41190): refused both ways. */
	CHECK(sbx_oci_parse_manifest("{\"schemaVersion\":2,\"config\":" DESC(CFG) ",\"layers\":[" DESC(GZ)
				     "],\"manifests\":[]}", "m", &m, &err) < 0);
	CHECK(err.status == SBX_EXIT_IMAGE_REFUSED);
	sbx_oci_manifest_free(&m);
	CHECK(sbx_oci_parse_index("{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}", "x", &x, &err) < 0);
	sbx_oci_index_free(&x);
	CHECK(sbx_oci_parse_index("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
				  "\"manifests\":[]}", "x", &x, &err) < 0);
	sbx_oci_index_free(&x);
	/* Layers sbx cannot unpack, foreign layers, bad sizes. */
	CHECK(sbx_oci_parse_manifest("{\"schemaVersion\":2,\"config\":" DESC(CFG) ",\"layers\":["
				     DESC("application/vnd.oci.image.layer.v1.tar+bzip2") "]}", "m", &m, &err) < 0);
	sbx_oci_manifest_free(&m);
	CHECK(sbx_oci_parse_manifest("{\"schemaVersion\":2,\"config\":" DESC(CFG) ",\"layers\":[{\"mediaType\":\"" GZ
				     "\",\"digest\":\"sha256:" H64 "\",\"size\":-1}]}", "m", &m, &err) < 0);
	sbx_oci_manifest_free(&m);
	CHECK(sbx_oci_parse_image_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" H64 "\"]},"
				   "\"config\":{\"Env\":[\"A=1\"],\"Cmd\":[\"sh\"],\"WorkingDir\":\"/w\"}}", "c", &c, &err) == 0);
	CHECK(c.n_diff_ids == 1 && c.working_dir != NULL);
	sbx_oci_image_config_free(&c);
	CHECK(sbx_oci_parse_image_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{\"Env\":[\"=1\"]}}",
				   "c", &c, &err) < 0);
	sbx_oci_image_config_free(&c);
	CHECK(sbx_oci_parse_image_config("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{\"WorkingDir\":\"w\"}}",
				   "c", &c, &err) < 0);
	sbx_oci_image_config_free(&c);
	CHECK(sbx_docker_parse_manifest("[{\"Config\":\"" H64 ".json\",\"Layers\":[\"a/layer.tar\"],\"RepoTags\":[\"x:1\"]}]",
					NULL, &d, &err) == 0);
	CHECK_STR(d.repo_tag, "x:1");
	sbx_docker_manifest_free(&d);
	CHECK(sbx_docker_parse_manifest("[{\"Config\":\"c.json\",\"Layers\":[\"../../etc/passwd\"]}]", NULL, &d, &err) < 0);
	sbx_docker_manifest_free(&d);
	CHECK(sbx_docker_parse_manifest("[{\"Config\":\"/etc/c.json\",\"Layers\":[\"l.tar\"]}]", NULL, &d, &err) < 0);
	sbx_docker_manifest_free(&d);
}

static void test_names(void)
{
	struct sbx_image_ref r;
	struct sbx_error err = { 0 };

	CHECK(sbx_oci_safe_relpath("blobs/sha256/" H64));
	CHECK(!sbx_oci_safe_relpath("a/../b"));
	CHECK(!sbx_oci_safe_relpath(".."));
	CHECK(!sbx_oci_safe_relpath("/a"));
	CHECK(!sbx_oci_safe_relpath("a\\b"));
	CHECK(sbx_oci_safe_relpath("a/..b"));
	CHECK(sbx_image_ref_parse("sbx-default", &r, &err) == 0);
	CHECK_STR(r.name, "sbx-default");
	CHECK_STR(r.tag, "latest");
	CHECK(sbx_image_ref_parse("localhost:5000/a/b:v1.2", &r, &err) == 0);
	CHECK_STR(r.name, "localhost:5000/a/b");
	CHECK_STR(r.tag, "v1.2");
	CHECK(sbx_image_ref_parse("../x", &r, &err) < 0);
	CHECK(sbx_image_ref_parse("a/../../x", &r, &err) < 0);
	CHECK(sbx_image_ref_parse("x:", &r, &err) < 0);
	CHECK(sbx_image_ref_parse("x:../y", &r, &err) < 0);
	CHECK(sbx_image_ref_parse("", &r, &err) < 0);
	CHECK(sbx_image_ref_parse("a/", &r, &err) < 0);
}

void test_oci(void)
{
	test_digests();
	test_documents();
	test_names();
}
