/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests: command line, config file, defaults, endpoint derivation. */
#include <stdlib.h>
#include <string.h>

#include "src/cli/options.h"
#include "src/cmd/commands.h"
#include "src/x509/pkcs10.h"
#include "tests/unit/tap.h"

/* Raw options for the command called name, as the program parses them. */
static struct tp_raw_options raw_for(const char *name)
{
	return (struct tp_raw_options){ .all = tp_commands, .cmd = tp_command_find(name) };
}

static int parse_config(struct tp_raw_options *raw, const char *json, struct tp_error *err)
{
	memset(err, 0, sizeof(*err));
	return tp_raw_parse_config(raw, json, strlen(json), "test.json", err);
}

static void test_config(void)
{
	struct tp_raw_options raw = raw_for("enroll");
	struct tp_error err;
	char *argv[] = { "enroll",  "--thing-name", "cli-thing", "--region=eu-west-1", "--agent", "env",
			 "--agent", "openssl",	    NULL };

	memset(&err, 0, sizeof(err));
	tap_ok(tp_raw_parse_argv(&raw, 8, argv, &err) == 0, "command line parses");
	tap_ok(parse_config(&raw,
			    "{\"thing-name\": \"file-thing\", \"tcti\": \"swtpm:port=1\", \"key-handle\": 2164260868}",
			    &err) == 0,
	       "config parses");
	tap_str(raw.v[TP_OPT_THING_NAME].str, "cli-thing", "command line wins over the config file");
	tap_str(raw.v[TP_OPT_TCTI].str, "swtpm:port=1", "config fills what the command line left unset");
	tap_str(raw.v[TP_OPT_KEY_HANDLE].str, "0x81000004", "key-handle may be a JSON number");
	tap_ok(raw.v[TP_OPT_TCTI].origin == TP_FROM_CONFIG, "origin of a config value is recorded");
	tap_ok(raw.v[TP_OPT_AGENT].items && strcmp(raw.v[TP_OPT_AGENT].items[0], "env") == 0 &&
		       strcmp(raw.v[TP_OPT_AGENT].items[1], "openssl") == 0 && !raw.v[TP_OPT_AGENT].items[2],
	       "a repeated option is a list");
	tp_raw_options_free(&raw);
	raw = raw_for("enroll");

	tap_ok(parse_config(&raw, "{\"thing_name\": \"x\"}", &err) < 0 && err.exit_code == EX_CONFIG &&
		       strstr(err.msg, "unknown key \"thing_name\""),
	       "unknown key is named: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"region\": 5}", &err) < 0 && err.exit_code == EX_CONFIG &&
		       strstr(err.msg, "\"region\" must be a string"),
	       "wrong type is named: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"key-handle\": -1}", &err) < 0 && strstr(err.msg, "key-handle"),
	       "negative number is refused: %s", err.msg);
	tap_ok(parse_config(&raw, "[1,2]", &err) < 0 && strstr(err.msg, "JSON object"), "non-object refused");
	tap_ok(parse_config(&raw, "{\"region\": ", &err) < 0 && strstr(err.msg, "not valid JSON"), "bad JSON refused");
	tap_ok(parse_config(&raw, "{\"region\": \"a\", \"tcti\": 1}", &err) < 0 && !raw.v[TP_OPT_REGION].set,
	       "a bad config file changes nothing");
	tap_ok(parse_config(&raw, "{\"region\": \"a\", \"region\": \"b\"}", &err) < 0 && strstr(err.msg, "twice"),
	       "duplicate key refused");
	tap_ok(parse_config(&raw, "{\"rsa-pss\": false, \"rsa-pss\": true}", &err) < 0 && strstr(err.msg, "twice"),
	       "duplicate flag refused, even after false");
	tp_raw_options_free(&raw);
	raw = raw_for("enroll");

	tap_ok(parse_config(&raw, "{\"rsa-pss\": true, \"out-dir\": \"/x\"}", &err) == 0 && raw.v[TP_OPT_RSA_PSS].set,
	       "a flag set to true in the config file");
	tp_raw_options_free(&raw);
	raw = raw_for("enroll");
	tap_ok(parse_config(&raw, "{\"rsa-pss\": false}", &err) == 0 && !raw.v[TP_OPT_RSA_PSS].set,
	       "a flag set to false stays unset");
	tap_ok(parse_config(&raw, "{\"rsa-pss\": \"yes\"}", &err) < 0 && strstr(err.msg, "true or false"),
	       "a flag must be a boolean: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"force-new-key\": true}", &err) < 0 && strstr(err.msg, "unknown key"),
	       "a one-off action is not a config key: %s", err.msg);
	tp_raw_options_free(&raw);
	raw = raw_for("enroll");
	tap_ok(parse_config(&raw, "{\"cert\": \"/x.pem\"}", &err) == 0 && !raw.v[TP_OPT_CERT].set,
	       "another command's option is ignored: one config file serves every command");
	tap_ok(parse_config(&raw, "{\"no-such-key\": 1}", &err) < 0 && strstr(err.msg, "unknown key"),
	       "a key no command knows is an error: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"agent\": [\"env\", 3]}", &err) < 0 && strstr(err.msg, "array of names"),
	       "a list of something else than names is refused: %s", err.msg);
	tp_raw_options_free(&raw);
}

/* What JSON forbids in a string, raw, and cJSON would take. */
static void test_config_control(void)
{
	static const char nul[] = "{\"thing-name\": \"gw\0,O=evil\"}";
	struct tp_raw_options raw = raw_for("enroll");
	struct tp_error err = { 0 };

	tap_ok(tp_raw_parse_config(&raw, nul, sizeof(nul) - 1, "c.json", &err) < 0 && err.exit_code == EX_CONFIG &&
		       strstr(err.msg, "config c.json: a NUL byte at byte 18") && !raw.v[TP_OPT_THING_NAME].set,
	       "a raw NUL in a string is refused, not cut short: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"thing-name\": \"gw\r\"}", &err) < 0 &&
		       strstr(err.msg, "control character (0x0d) at byte 18"),
	       "a raw carriage return in a string is refused: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"thing-name\": \"gw\\\t\"}", &err) < 0 && strstr(err.msg, "(0x09) at byte 19"),
	       "a raw tab after a backslash is refused: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"region\":\x7f\"eu\x01\"}", &err) < 0 && strstr(err.msg, "(0x01) at byte 14"),
	       "DEL is no control character; 0x01 is: %s", err.msg);
	tap_ok(parse_config(&raw, "{\"thing-name\": \"gw\\u0000\"}", &err) < 0 &&
		       strstr(err.msg, "a string holds a NUL character (\\u0000) at byte 18"),
	       "the \\u0000 escape is refused: %s", err.msg);
	tap_ok(parse_config(&raw, "{\r\n\t\"thing-name\": \"gw\\n\\\\u0000\"\n}\n", &err) == 0 &&
		       raw.v[TP_OPT_THING_NAME].str && strcmp(raw.v[TP_OPT_THING_NAME].str, "gw\n\\u0000") == 0,
	       "whitespace between tokens, escapes and an escaped backslash are fine");
	tp_raw_options_free(&raw);
}

static int parse_argv(char **argv, int argc, struct tp_raw_options *raw, struct tp_error *err)
{
	*raw = raw_for("enroll");
	memset(err, 0, sizeof(*err));
	return tp_raw_parse_argv(raw, argc, argv, err);
}

static void test_argv_errors(void)
{
	struct tp_raw_options raw;
	struct tp_error err;
	char *bad_opt[] = { "enroll", "--no-such", NULL };
	char *missing[] = { "enroll", "--region", NULL };
	char *extra[] = { "enroll", "stray", NULL };
	char *flag_value[] = { "enroll", "--rsa-pss=yes", NULL };
	char *flag[] = { "enroll", "--rsa-pss", NULL };
	char *help[] = { "enroll", "--help", NULL };
	char *ambiguous[] = { "enroll", "--key", "x", NULL };
	char *abbreviated[] = { "enroll", "--key-h", "0x81000002", NULL };

	tap_ok(parse_argv(bad_opt, 2, &raw, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "\"--no-such\""),
	       "unknown option quoted: %s", err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(missing, 2, &raw, &err) < 0 && strstr(err.msg, "--region"), "missing value named: %s",
	       err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(extra, 2, &raw, &err) < 0 && strstr(err.msg, "\"stray\""), "stray argument quoted: %s",
	       err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(flag_value, 2, &raw, &err) < 0 && err.exit_code == EX_USAGE, "a flag takes no value: %s",
	       err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(flag, 2, &raw, &err) == 0 && raw.v[TP_OPT_RSA_PSS].set, "a flag on the command line");
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(help, 2, &raw, &err) == TP_HELP, "--help is its own outcome");
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(ambiguous, 3, &raw, &err) < 0 && err.exit_code == EX_USAGE &&
		       strstr(err.msg, "\"--key\" is ambiguous (--key-handle, --key-alg, --key-file, --key-auth-file)"),
	       "an abbreviation of several options lists them: %s", err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(abbreviated, 3, &raw, &err) < 0 &&
		       strstr(err.msg, "\"--key-h\" is abbreviated: write it out, --key-handle"),
	       "an abbreviation of one option names it: %s", err.msg);
	tp_raw_options_free(&raw);
	tap_ok(parse_argv(flag_value, 2, &raw, &err) < 0 && strstr(err.msg, "\"--rsa-pss\" takes no value"),
	       "a flag given a value says so: %s", err.msg);
	tp_raw_options_free(&raw);
}

/* The typed options of a command line; returns the result, err filled. */
static int finish(char **argv, int argc, struct tp_options *o, struct tp_error *err)
{
	struct tp_raw_options raw;
	int r;

	memset(o, 0, sizeof(*o));
	r = parse_argv(argv, argc, &raw, err);
	if (r == 0)
		r = tp_options_from_raw(&raw, o, err);
	tp_raw_options_free(&raw);
	return r;
}

static void test_finish(void)
{
	struct tp_options o;
	struct tp_error err;
	char *good[] = { "enroll", "--thing-name", "gw-0042", "--region", "eu-west-1", NULL };
	char *cn[] = { "enroll", "--thing-name", "gw", "--region", "cn-north-1", NULL };
	char *url[] = {
		"enroll", "--thing-name", "gw", "--region", "eu-west-1", "--endpoint-url", "https://127.0.0.1:8443/",
		NULL
	};
	char *http[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--endpoint-url", "http://x", NULL };
	char *handle[] = {
		"enroll", "--thing-name", "gw", "--region", "eu-west-1", "--key-handle", "0x81800000", NULL
	};
	char *srk[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--key-handle", "0x81000001", NULL };
	char *name[] = { "enroll", "--thing-name", "gw 42", "--region", "eu-west-1", NULL };
	char *sig[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--signing-name", "s3", NULL };
	char *vq[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "-v", "-q", NULL };

	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_CA_BUNDLE");
	tap_ok(finish(good, 5, &o, &err) == 0, "defaults apply");
	tap_str(o.tcti, "device:/dev/tpmrm0", "default TCTI");
	tap_ok(o.key.handle == 0x81000002u, "default key handle");
	tap_str(o.signing_name, "iot", "default signing name");
	tap_str(o.out_dir, "/var/lib/tpm-provision", "default output directory");
	tap_str(o.endpoint_url, "https://iot.eu-west-1.amazonaws.com", "endpoint from region");
	tp_options_free(&o);

	tap_ok(finish(cn, 5, &o, &err) == 0, "China region");
	tap_str(o.endpoint_url, "https://iot.cn-north-1.amazonaws.com.cn", "China endpoint");
	tp_options_free(&o);

	tap_ok(finish(url, 7, &o, &err) == 0, "explicit endpoint");
	tap_str(o.endpoint_url, "https://127.0.0.1:8443", "trailing slash removed");
	tp_options_free(&o);

	tap_ok(finish(http, 7, &o, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "\"http://x\""),
	       "plain http refused: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(handle, 7, &o, &err) < 0 && strstr(err.msg, "0x81800000"), "handle range: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(srk, 7, &o, &err) < 0 && strstr(err.msg, "storage root key"), "SRK handle refused: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(name, 5, &o, &err) < 0 && strstr(err.msg, "\"gw 42\""), "bad thing name: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(sig, 7, &o, &err) < 0 && strstr(err.msg, "\"s3\""), "bad signing name: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(vq, 7, &o, &err) < 0 && err.exit_code == EX_USAGE &&
		       strstr(err.msg, "-v (--verbose) and -q (--quiet) exclude each other"),
	       "-v and -q together are refused: %s", err.msg);
	tp_options_free(&o);

	setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
	tap_ok(finish(good, 3, &o, &err) == 0, "region from AWS_DEFAULT_REGION");
	tap_str(o.region, "us-east-2", "AWS_DEFAULT_REGION used");
	tp_options_free(&o);
	setenv("AWS_REGION", "eu-central-1", 1);
	tap_ok(finish(good, 3, &o, &err) == 0, "region from AWS_REGION");
	tap_str(o.region, "eu-central-1", "AWS_REGION wins over AWS_DEFAULT_REGION");
	tp_options_free(&o);
	tap_ok(finish(good, 5, &o, &err) == 0, "region from --region");
	tap_str(o.region, "eu-west-1", "--region wins over the environment");
	tp_options_free(&o);
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	tap_ok(finish(good, 3, &o, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "region"), "no region: %s",
	       err.msg);
	tp_options_free(&o);
}

static void test_key_options(void)
{
	struct tp_options o = { 0 };
	struct tp_error err;
	char *dflt[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", NULL };
	char *p384[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--key-alg", "ecc-p384", NULL };
	char *bad[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--key-alg", "rsa-1024", NULL };
	char *pss[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--rsa-pss", NULL };
	char *rsapss[] = { "enroll",	"--thing-name", "gw",	    "--region", "eu-west-1",
			   "--rsa-pss", "--key-alg",	"rsa-3072", NULL };
	char *file[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--key-file", "/k.pem", NULL };
	char *both[] = { "enroll",     "--thing-name", "gw",	       "--region",   "eu-west-1",
			 "--key-file", "/k.pem",       "--key-handle", "0x81000003", NULL };

	tap_ok(finish(dflt, 5, &o, &err) == 0 && o.key_alg == TPM_ALG_ECC_P256 && o.key.handle == 0x81000002u,
	       "default key: ecc-p256 at 0x81000002");
	tp_options_free(&o);
	tap_ok(finish(p384, 7, &o, &err) == 0 && o.key_alg == TPM_ALG_ECC_P384 &&
		       strcmp(tpm_key_alg_info(o.key_alg)->csr_digest, "SHA384") == 0,
	       "ecc-p384 signs with SHA-384");
	tp_options_free(&o);
	tap_ok(finish(bad, 7, &o, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "\"rsa-1024\""),
	       "unknown key algorithm quoted: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(pss, 6, &o, &err) < 0 && strstr(err.msg, "rsa-pss needs an RSA key"), "--rsa-pss needs RSA: %s",
	       err.msg);
	tp_options_free(&o);
	tap_ok(finish(rsapss, 8, &o, &err) == 0 && o.key_alg == TPM_ALG_RSA_3072 && o.rsa_pss,
	       "--rsa-pss with rsa-3072");
	tp_options_free(&o);
	tap_ok(finish(file, 7, &o, &err) == 0 && o.key.handle == 0 && strcmp(o.key.file, "/k.pem") == 0,
	       "no default handle with a key file");
	tp_options_free(&o);
	tap_ok(finish(both, 9, &o, &err) < 0 && strstr(err.msg, "either key-handle or key-file"),
	       "key file and handle together refused: %s", err.msg);
	tp_options_free(&o);
}

/* enroll --tcti conf, typed. */
static int tcti(const char *conf, struct tp_options *o, struct tp_error *err)
{
	char *argv[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--tcti", (char *)conf, NULL };

	return finish(argv, 7, o, err);
}

static void test_tcti(void)
{
	struct tp_options o;
	struct tp_error err;

	tap_ok(tcti("pcap:swtpm:host=127.0.0.1,port=2321", &o, &err) == 0, "pcap wrapping swtpm");
	tp_options_free(&o);
	tap_ok(tcti("pcap:", &o, &err) == 0, "pcap with tpm2-tss's default");
	tp_options_free(&o);
	tap_ok(tcti("pcap:/tmp/evil.so", &o, &err) < 0 && err.exit_code == EX_USAGE &&
		       strstr(err.msg,
			      "--tcti \"pcap:/tmp/evil.so\" wraps the TCTI \"/tmp/evil.so\", which does not name"),
	       "pcap wrapping a library path: %s", err.msg);
	tp_options_free(&o);
	tap_ok(tcti("pcap:device:/etc/passwd", &o, &err) < 0 &&
		       strstr(err.msg, "\"device:/etc/passwd\", which names a device that is not a character device"),
	       "pcap wrapping a device that is a file: %s", err.msg);
	tp_options_free(&o);
	tap_ok(tcti("pcap:cmd:true", &o, &err) < 0 && strstr(err.msg, "\"cmd:true\", which does not name"),
	       "pcap wrapping cmd: %s", err.msg);
	tp_options_free(&o);
	tap_ok(tcti("pcap:pcap:nosuch", &o, &err) < 0 &&
		       strstr(err.msg, "\"nosuch\", which names a TCTI that tpm2-tss"),
	       "pcap wrapping pcap wrapping a TCTI not installed: %s", err.msg);
	tp_options_free(&o);
	tap_ok(tcti("pcap:pcap:pcap:pcap:pcap:device", &o, &err) < 0 && strstr(err.msg, "too deeply"),
	       "pcaps nested without end: %s", err.msg);
	tp_options_free(&o);
	tap_ok(tcti("device:/etc/passwd", &o, &err) < 0 &&
		       strstr(err.msg, "--tcti \"device:/etc/passwd\" names a device"),
	       "a device that is a file: %s", err.msg);
	tp_options_free(&o);
}

static void test_ca_bundle(void)
{
	struct tp_options o;
	struct tp_error err;
	char *missing[] = { "enroll",	   "--thing-name",     "gw", "--region", "eu-west-1",
			    "--ca-bundle", "/nonexistent.pem", NULL };
	char *dir[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--ca-bundle", "/", NULL };
	char *dev[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", NULL };
	char *csr[] = { "csr", "--thing-name", "gw", "--out", "-", NULL };
	struct tp_raw_options raw;
	int r;

	tap_ok(finish(missing, 7, &o, &err) < 0 && err.exit_code == EX_CONFIG &&
		       strstr(err.msg, "CA bundle /nonexistent.pem (from --ca-bundle) does not exist"),
	       "a missing --ca-bundle: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(dir, 7, &o, &err) < 0 && err.exit_code == EX_CONFIG && strstr(err.msg, "is a directory"),
	       "a directory as --ca-bundle: %s", err.msg);
	tp_options_free(&o);
	setenv("AWS_CA_BUNDLE", "/dev/null", 1);
	tap_ok(finish(dev, 5, &o, &err) < 0 && err.exit_code == EX_CONFIG &&
		       strstr(err.msg, "CA bundle /dev/null (from AWS_CA_BUNDLE) is not a regular file"),
	       "a device as AWS_CA_BUNDLE: %s", err.msg);
	tp_options_free(&o);
	raw = raw_for("csr");
	memset(&err, 0, sizeof(err));
	r = tp_raw_parse_argv(&raw, 5, csr, &err);
	if (r == 0)
		r = tp_options_from_raw(&raw, &o, &err);
	tap_ok(r == 0, "AWS_CA_BUNDLE is not looked at by csr, which does not use the service: %s", err.msg);
	tp_raw_options_free(&raw);
	tp_options_free(&o);
	unsetenv("AWS_CA_BUNDLE");
}

static void test_handles(void)
{
	uint32_t h = 0;

	tap_ok(tp_keyloc_parse_handle("0x81000002", &h) == 0 && h == 0x81000002u, "hex handle");
	tap_ok(tp_keyloc_parse_handle("2164260866", &h) == 0 && h == 0x81000002u, "decimal handle");
	tap_ok(tp_keyloc_parse_handle("0x817fffff", &h) == 0, "top of the owner range");
	tap_ok(tp_keyloc_parse_handle("0x80ffffff", &h) < 0, "below the owner range");
	tap_ok(tp_keyloc_parse_handle("0x81000002x", &h) < 0, "trailing junk");
	tap_ok(tp_keyloc_parse_handle("-1", &h) < 0, "negative");
	tap_ok(tp_keyloc_parse_handle("", &h) < 0, "empty");
	tap_ok(tp_keyloc_parse_handle("020100000002", &h) < 0, "a leading 0 is not octal: refused");
}

static void test_install_options(void)
{
	struct tp_options o;
	struct tp_error err;
	char *agents[] = { "enroll", "--thing-name", "gw",	"--region",   "eu-west-1", "--agent",
			   "env",    "--agent",	     "openssl", "--deadline", "30",	   NULL };
	char *bad[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--agent", "mosquitto", NULL };
	char *token[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--agent", "pkcs11", NULL };
	char *deadline[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--deadline", "0", NULL };
	char *attach[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--attach-thing", "--policy",
			   "a",	     "--policy",     "b",  NULL };
	char *colon[] = { "enroll", "--thing-name", "gw:1", "--region", "eu-west-1", "--attach-thing", NULL };
	char *policy[] = { "enroll", "--thing-name", "gw", "--region", "eu-west-1", "--policy", "", NULL };

	tap_ok(finish(agents, 11, &o, &err) == 0 && o.agents == (TP_AGENT_ENV | TP_AGENT_OPENSSL) && o.deadline == 30,
	       "agents are a set, the deadline a number");
	tap_ok(o.owner_uid == (uid_t)-1 && o.owner_gid == (gid_t)-1, "no owner by default");
	tp_options_free(&o);
	tap_ok(finish(bad, 7, &o, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "\"mosquitto\""),
	       "an unknown agent is quoted: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(token, 7, &o, &err) == 0 && o.agents == TP_AGENT_PKCS11, "--agent pkcs11");
	tp_options_free(&o);
	tap_ok(finish(deadline, 7, &o, &err) < 0 && strstr(err.msg, "\"0\""), "a zero deadline is refused: %s",
	       err.msg);
	tp_options_free(&o);
	tap_ok(finish(attach, 10, &o, &err) == 0 && o.attach_thing && o.policies && strcmp(o.policies[1], "b") == 0 &&
		       !o.policies[2],
	       "--attach-thing and repeated --policy");
	tp_options_free(&o);
	tap_ok(finish(colon, 6, &o, &err) < 0 && err.exit_code == EX_USAGE && strstr(err.msg, "\"gw:1\""),
	       "a thing name that cannot be sent is refused with --attach-thing: %s", err.msg);
	tp_options_free(&o);
	tap_ok(finish(policy, 7, &o, &err) < 0 && strstr(err.msg, "--policy \"\""),
	       "an empty policy name is refused: %s", err.msg);
	tp_options_free(&o);
}

/* The number of rows of the command table, or of own options of cmd,
 * that name name. */
static int named(const char *name, const struct tp_command *only)
{
	const struct tp_command *c;
	const struct tp_opt_def *d;
	int n = 0;

	for (c = only ? only : tp_commands; c->name; c = only ? &(struct tp_command){ 0 } : c + 1)
		for (d = c->impl->options; d && d->name; d++)
			n += strcmp(d->name, name) == 0;
	return n;
}

/* The command table: a command's own options fit, and each name is one
 * option's (a config key names one option, whichever command reads it). */
static void test_command_table(void)
{
	const struct tp_command *c;
	const struct tp_opt_def *d;
	bool fits = true, unique = true;
	int i;

	for (c = tp_commands; c->name; c++) {
		for (d = c->impl->options; d && d->name; d++) {
			fits = fits && d - c->impl->options < TP_OWN_OPTS_MAX;
			unique = unique && named(d->name, NULL) == 1;
			for (i = 0; i < TP_OPT__COUNT; i++)
				unique = unique && strcmp(tp_opt_defs[i].name, d->name) != 0;
		}
		tap_ok(c->impl->run && tp_command_find(c->name) == c, "command %s: its row is found, with an entry",
		       c->name);
	}
	tap_ok(fits, "every command's own options fit (at most %d)", TP_OWN_OPTS_MAX);
	tap_ok(unique, "every own option's name is one command's, and no shared option's");
	tap_ok(named("out", tp_command_find("csr")) == 1 && named("csr-dir", tp_command_find("batch")) == 1,
	       "csr declares --out, batch --csr-dir");
	tap_ok(!tp_command_find("enrol"), "an unknown command has no row");
}

int main(void)
{
	test_command_table();
	test_config();
	test_config_control();
	test_argv_errors();
	test_finish();
	test_key_options();
	test_tcti();
	test_ca_bundle();
	test_handles();
	test_install_options();
	return tap_done();
}
