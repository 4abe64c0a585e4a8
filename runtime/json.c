#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

struct sbx_json; /* really a struct yajl_val_s */

static yajl_val val(const sbx_json *v)
{
	return (yajl_val)v;
}

int sbx_json_parse(const char *text, const char *what, sbx_json **out, struct sbx_error *err)
{
	char msg[256] = "";
	yajl_val doc = yajl_tree_parse(text, msg, sizeof(msg));

	if (doc == NULL) {
		msg[strcspn(msg, "\n")] = '\0';
		return sbx_fail(err, 0, "%s: not valid JSON: %s", what, msg[0] ? msg : "parse error");
	}
	*out = (sbx_json *)doc;
	return 0;
}

void sbx_json_free(sbx_json *doc)
{
	yajl_tree_free(val(doc));
}

bool sbx_json_is_object(const sbx_json *v)
{
	return v != NULL && YAJL_IS_OBJECT(val(v));
}

bool sbx_json_is_array(const sbx_json *v)
{
	return v != NULL && YAJL_IS_ARRAY(val(v));
}

bool sbx_json_is_string(const sbx_json *v)
{
	return v != NULL && YAJL_IS_STRING(val(v));
}

bool sbx_json_is_null(const sbx_json *v)
{
	return v == NULL || YAJL_IS_NULL(val(v));
}

bool sbx_json_is_true(const sbx_json *v)
{
	return v != NULL && YAJL_IS_TRUE(val(v));
}

bool sbx_json_is_bool(const sbx_json *v)
{
	return v != NULL && (YAJL_IS_TRUE(val(v)) || YAJL_IS_FALSE(val(v)));
}

const sbx_json *sbx_json_get(const sbx_json *obj, const char *key)
{
	yajl_val o = val(obj);

	if (!sbx_json_is_object(obj))
		return NULL;
	for (size_t i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return (const sbx_json *)o->u.object.values[i];
	return NULL;
}

size_t sbx_json_object_size(const sbx_json *obj)
{
	return sbx_json_is_object(obj) ? val(obj)->u.object.len : 0;
}

const char *sbx_json_object_key(const sbx_json *obj, size_t i)
{
	return i < sbx_json_object_size(obj) ? val(obj)->u.object.keys[i] : NULL;
}

size_t sbx_json_array_size(const sbx_json *arr)
{
	return sbx_json_is_array(arr) ? val(arr)->u.array.len : 0;
}

const sbx_json *sbx_json_array_at(const sbx_json *arr, size_t i)
{
	return i < sbx_json_array_size(arr) ? (const sbx_json *)val(arr)->u.array.values[i] : NULL;
}

const char *sbx_json_string(const sbx_json *v)
{
	return sbx_json_is_string(v) ? val(v)->u.string : NULL;
}

int sbx_json_uint64(const sbx_json *v, uint64_t *out)
{
	const char *text;
	char *end;
	unsigned long long n;

	/* From the number's text: yajl's integer is signed and would refuse
	 * masks like 0xffffffffffffffff. */
	if (v == NULL || !YAJL_IS_NUMBER(val(v)))
		return -1;
	text = val(v)->u.number.r;
	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

int sbx_json_int64(const sbx_json *v, int64_t *out)
{
	const char *text;
	char *end;
	long long n;

	if (v == NULL || !YAJL_IS_NUMBER(val(v)))
		return -1;
	text = val(v)->u.number.r;
	if (text == NULL || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

void sbx_json_gen_key(yajl_gen g, const char *key)
{
	if (key != NULL)
		yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

void sbx_json_gen_str(yajl_gen g, const char *key, const char *value)
{
	sbx_json_gen_key(g, key);
	if (value == NULL)
		yajl_gen_null(g);
	else
		yajl_gen_string(g, (const unsigned char *)value, strlen(value));
}

void sbx_json_gen_uint(yajl_gen g, const char *key, uint64_t value)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)value);

	sbx_json_gen_key(g, key);
	yajl_gen_number(g, buf, (size_t)n);
}

static void gen_tree(yajl_gen g, yajl_val v, int depth)
{
	if (v == NULL || depth > 64) {
		yajl_gen_null(g);
	} else if (YAJL_IS_STRING(v)) {
		yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			sbx_json_gen_key(g, v->u.object.keys[i]);
			gen_tree(g, v->u.object.values[i], depth + 1);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			gen_tree(g, v->u.array.values[i], depth + 1);
		yajl_gen_array_close(g);
	} else {
		yajl_gen_null(g);
	}
}

void sbx_json_gen_value(yajl_gen g, const char *key, const sbx_json *v)
{
	sbx_json_gen_key(g, key);
	gen_tree(g, val(v), 0);
}

int sbx_json_gen_text(yajl_gen g, char **out, struct sbx_error *err)
{
	const unsigned char *buf;
	size_t len;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return sbx_fail(err, 0, "generating JSON");
	*out = malloc(len + 2);
	if (*out == NULL)
		return sbx_fail(err, ENOMEM, "generating JSON");
	memcpy(*out, buf, len);
	(*out)[len] = '\n';
	(*out)[len + 1] = '\0';
	return 0;
}
