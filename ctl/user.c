/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl user: add (printing or storing the key once), update, roll keys over, remove, list. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

static bool
is_key_hex(const char *k)
{
	size_t n = 0;

	for (; k != NULL && k[n] != '\0'; n++)
		if (!((k[n] >= '0' && k[n] <= '9') || (k[n] >= 'a' && k[n] <= 'f') ||
		      (k[n] >= 'A' && k[n] <= 'F')))
			return false;
	return n == 64;
}

/* Write the credentials file opened by cmd_user_add; 0 or -errno. */
static int
write_credentials(int fd, const char *user, const char *key)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "user = %s\nkey = %s\n", user, key);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	/* Ask for 0600 whatever the umask. */
	if (fchmod(fd, 0600) < 0 || write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
		return errno != 0 ? -errno : -EIO;
	return 0;
}

/* Print or store the key of a user just added (@rollover 0) or its new
 * key (@rollover 1). */
static int
key_made(const struct sl_ctl *c, struct sl_ctl_reply *r, const char *name, const char *file,
	 int fd, int rollover)
{
	const char *key = json_string_value(json_object_get(r->result, "key"));
	char uid[32];
	int rc = 0;

	sl_ctl_fmt_val(uid, sizeof(uid), json_object_get(r->result, "uid"));
	if (!is_key_hex(key)) {
		sl_ctl_err("user %s was changed but sluice-control's reply has no valid key; "
			   "%s", name, rollover ? "retire the new key with user key-retire and add "
			   "another" : "remove the user and add it again");
		rc = SL_CTL_EXIT_FAILED;
	} else if (file != NULL && (rc = write_credentials(fd, name, key)) < 0) {
		sl_ctl_err("writing %s: %s; the key of user %s follows on stdout, store it now",
			   file, strerror(-rc), name);
		printf("%s\n", key);
		rc = SL_CTL_EXIT_FAILED;
	} else if (c->json) {
		sl_ctl_print_result_raw(r);
	} else if (file != NULL) {
		if (!c->quiet)
			printf("%s user %s (uid %s); credentials written to %s\n",
			       rollover ? "new key for" : "added", name, uid, file);
	} else if (c->quiet) {
		printf("%s\n", key);
	} else if (rollover) {
		printf("new key for user %s (uid %s)\nkey: %s\nThe key is shown only this once: "
		       "store it now. The previous key stays valid until 'user key-retire %s'.\n",
		       name, uid, key, name);
	} else {
		printf("added user %s (uid %s)\nkey: %s\n"
		       "The key is shown only this once: store it now.\n", name, uid, key);
	}
	return rc;
}

/* Call @cmd with arguments @a for user @name, whose answer holds a new
 * key: printed, or stored in @file (created first: a key nobody can store
 * is lost). */
static int
key_call(struct sl_ctl *c, const char *cmd, json_t *a, const char *name, const char *file,
	 int rollover)
{
	struct sl_ctl_reply r;
	int rc = 0, fd = -1;

	if (file != NULL) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			sl_ctl_err("cannot create credentials file %s: %s%s", file, strerror(errno),
				   errno == EEXIST ? " (not overwriting it: remove it or pick "
						     "another file)" : "");
			return SL_CTL_EXIT_FAILED;
		}
	}
	rc = sl_ctl_call(c, cmd, a, &r);
	if (rc == 0) {
		rc = key_made(c, &r, name, file, fd, rollover);
		sl_ctl_reply_fini(&r);
	}
	if (fd >= 0) {
		close(fd);
		if (rc != 0)
			unlink(file);
	}
	return rc;
}

static int
check_encryption(const struct sl_ctl_verb *v, const char *enc)
{
	static const char *const ok[] = { "off", "optional", "required", NULL };

	if (enc != NULL && !sl_ctl_one_of(enc, ok))
		return sl_ctl_usage_err(v, "--encryption must be off, optional or required, not "
					"'%s'", enc);
	return 0;
}

/* Arguments {"name", "admin" (when @admin >= 0), "encryption" (when not
 * NULL)} into a new object *@a (the caller frees it). Returns the exit code. */
static int
user_args(const struct sl_ctl_verb *v, const char *name, int admin, const char *enc, json_t **a)
{
	int rc;

	*a = json_object();
	if (*a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, *a, "name", name);
	if (rc == 0 && admin >= 0 && json_object_set_new(*a, "admin", json_boolean(admin)) < 0)
		abort();
	if (rc == 0 && enc != NULL)
		rc = sl_ctl_arg_str(v, *a, "encryption", enc);
	return rc;
}

static int
cmd_user_add(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *file = NULL, *enc = NULL, *pos[1];
	bool admin = false;
	const struct sl_ctl_opt opts[] = {
		{ "admin", NULL, &admin }, { "credentials", &file, NULL },
		{ "encryption", &enc, NULL }, { NULL, NULL, NULL },
	};
	int rc;
	json_t *a;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc == 0)
		rc = check_encryption(v, enc);
	if (rc != 0)
		return rc;
	rc = user_args(v, pos[0], admin, enc, &a);
	if (rc == 0)
		rc = key_call(c, "user.add", a, pos[0], file, 0);
	json_decref(a);
	return rc;
}

static int
cmd_user_update(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *enc = NULL, *pos[1];
	bool admin = false, no_admin = false;
	const struct sl_ctl_opt opts[] = {
		{ "admin", NULL, &admin }, { "no-admin", NULL, &no_admin },
		{ "encryption", &enc, NULL }, { NULL, NULL, NULL },
	};
	struct sl_ctl_reply r;
	int rc;
	json_t *a;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc == 0)
		rc = check_encryption(v, enc);
	if (rc == 0 && admin && no_admin)
		rc = sl_ctl_usage_err(v, "give --admin or --no-admin, not both");
	if (rc == 0 && !admin && !no_admin && enc == NULL)
		rc = sl_ctl_usage_err(v, "nothing to update: give --encryption, --admin or "
				      "--no-admin");
	if (rc != 0)
		return rc;
	rc = user_args(v, pos[0], admin || no_admin ? admin : -1, enc, &a);
	if (rc == 0)
		rc = sl_ctl_call(c, "user.update", a, &r);
	json_decref(a);
	return sl_ctl_finish_change(c, rc, &r, "updated user %s", pos[0]);
}

static int
cmd_user_key_add(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *file = NULL, *pos[1];
	const struct sl_ctl_opt opts[] = {
		{ "credentials", &file, NULL }, { NULL, NULL, NULL },
	};
	int rc;
	json_t *a;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	rc = user_args(v, pos[0], -1, NULL, &a);
	if (rc == 0)
		rc = key_call(c, "user.key_add", a, pos[0], file, 1);
	json_decref(a);
	return rc;
}

static int
cmd_user_key_retire(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_name_verb(c, v, argc, argv, "user.key_retire", "retired the older key of "
				"user");
}

static int
cmd_user_remove(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_name_verb(c, v, argc, argv, "user.remove", "removed user");
}

static void
print_user_list(json_t *res)
{
	static const char *const hdr[] = { "NAME", ">UID", "ADMIN", "ENCRYPTION", ">KEYS" };
	static const char *const keys[] = { "name", "uid", "admin", "encryption", "keys" };

	sl_ctl_print_objects(res, 5, hdr, keys);
}

static int
cmd_user_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "user.list", NULL, 0, print_user_list);
}

const struct sl_ctl_verb sl_ctl_user_verbs[] = {
	{ "user", "add", "user add NAME [--admin] [--credentials FILE] [--encryption POLICY]",
	  "Add user NAME and print its key (64 hex digits). The key is shown this once\n"
	  "only. --credentials FILE writes \"user = NAME\" and \"key = HEX\" lines to FILE\n"
	  "(mode 0600) instead of printing the key; an existing FILE is never\n"
	  "overwritten. With -q only the key is printed, for $(...).\n"
	  "--encryption: off (never encrypted), optional (when the client asks; the\n"
	  "default) or required (only encrypted sessions).\n", cmd_user_add },
	{ "user", "update", "user update NAME [--encryption POLICY] [--admin | --no-admin]",
	  "Change user NAME's encryption policy (off, optional, required) or admin flag.\n"
	  "Sessions already open keep what they agreed; new sessions follow the policy.\n",
	  cmd_user_update },
	{ "user", "key-add", "user key-add NAME [--credentials FILE]",
	  "Give user NAME a new key and print it (or write it to FILE as user add does).\n"
	  "The previous key stays valid as the second, so clients move over without\n"
	  "downtime; once they have, retire it with 'user key-retire NAME'.\n"
	  "Refused while NAME holds two keys.\n", cmd_user_key_add },
	{ "user", "key-retire", "user key-retire NAME",
	  "Drop user NAME's older key: only the newest stays valid, and the sessions\n"
	  "proved with the older key end at once.\n", cmd_user_key_retire },
	{ "user", "remove", "user remove NAME",
	  "Remove user NAME: its ACL entries go too and its sessions end.\n", cmd_user_remove },
	{ "user", "list", "user list", "List users (never their keys).\n", cmd_user_list },
	{ NULL, NULL, NULL, NULL, NULL },
};
