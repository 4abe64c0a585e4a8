/* A small JSON reader over yajl's tree API, so that the rest of sbx does
 * not depend on the backend.  Values are borrowed from the document and
 * live until sbx_json_free. */
#ifndef SBX_JSON_H
#define SBX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "error.h"

typedef struct sbx_json sbx_json;

/* Parse TEXT (NUL-terminated).  On a syntax error ERR names WHAT (a file
 * name) and yajl's message. */
int sbx_json_parse(const char *text, const char *what, sbx_json **out, struct sbx_error *err);
void sbx_json_free(sbx_json *doc);

bool sbx_json_is_object(const sbx_json *v);
bool sbx_json_is_array(const sbx_json *v);
bool sbx_json_is_string(const sbx_json *v);
bool sbx_json_is_null(const sbx_json *v);
/* V is the literal true (false for anything else, NULL included). */
bool sbx_json_is_true(const sbx_json *v);

/* V is true or false. */
bool sbx_json_is_bool(const sbx_json *v);

/* Object member KEY, or NULL. */
const sbx_json *sbx_json_get(const sbx_json *obj, const char *key);
size_t sbx_json_object_size(const sbx_json *obj);
const char *sbx_json_object_key(const sbx_json *obj, size_t i);

size_t sbx_json_array_size(const sbx_json *arr);
const sbx_json *sbx_json_array_at(const sbx_json *arr, size_t i);

/* The string, or NULL when V is not a string. */
const char *sbx_json_string(const sbx_json *v);

/* A non-negative integer that fits 64 bits; -1 when V is not one. */
int sbx_json_uint64(const sbx_json *v, uint64_t *out);
/* An integer that fits 64 bits signed (no fraction, no exponent); -1 when
 * V is not one. */
int sbx_json_int64(const sbx_json *v, int64_t *out);

/* Writing, with yajl_gen.  KEY NULL writes a bare value (in an array). */
void sbx_json_gen_key(yajl_gen g, const char *key);
void sbx_json_gen_str(yajl_gen g, const char *key, const char *value); /* NULL: null */
void sbx_json_gen_uint(yajl_gen g, const char *key, uint64_t value);
/* Copy a parsed value (NULL: null). */
void sbx_json_gen_value(yajl_gen g, const char *key, const sbx_json *v);
/* The text generated so far, malloc'd, with a final newline. */
int sbx_json_gen_text(yajl_gen g, char **out, struct sbx_error *err);

#endif
