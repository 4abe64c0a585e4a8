#include "command.h"
#include "unit.h"

void test_command(void)
{
	struct sbx_run_options o = { 0 };
	struct sbx_error e = { 0 };
	char **env = NULL;

	o.env[o.n_env++] = "FOO=bar";
	o.env[o.n_env++] = "HOME=/workspace";
	o.env[o.n_env++] = "FOO=baz";
	CHECK(sbx_env_build(&o, "xterm-256color", &env, &e) == 0);
	CHECK_STR(env[0], "PATH=" SBX_DEFAULT_PATH);
	CHECK_STR(env[1], "HOME=/workspace");
	CHECK_STR(env[2], "LANG=C.UTF-8");
	CHECK_STR(env[3], "TERM=xterm-256color");
	CHECK_STR(env[4], "FOO=baz");
	CHECK(env[5] == NULL);
	sbx_env_free(env);

	/* A TERM that could carry anything else is not passed on. */
	o.n_env = 0;
	CHECK(sbx_env_build(&o, "xterm\nLD_PRELOAD=/x", &env, &e) == 0);
	CHECK_STR(env[3], "TERM=dumb");
	sbx_env_free(env);
	CHECK(sbx_env_build(&o, NULL, &env, &e) == 0);
	CHECK_STR(env[3], "TERM=dumb");
	CHECK(env[4] == NULL);
	sbx_env_free(env);
}
