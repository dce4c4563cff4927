/* SPDX-License-Identifier: BSD-3-Clause */
/* sluicectl user: add (printing or storing the key once), remove and list users. */

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

/* Print or store the key of a user just added. */
static int
user_added(const struct sl_ctl *c, struct sl_ctl_reply *r, const char *name, const char *file,
	   int fd)
{
	const char *key = json_string_value(json_object_get(r->result, "key"));
	char uid[32];
	int rc = 0;

	sl_ctl_fmt_val(uid, sizeof(uid), json_object_get(r->result, "uid"));
	if (!is_key_hex(key)) {
		sl_ctl_err("user %s was added but sluice-control's reply has no valid key; "
			   "remove the user and add it again", name);
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
			printf("added user %s (uid %s); credentials written to %s\n", name, uid, file);
	} else if (c->quiet) {
		printf("%s\n", key);
	} else {
		printf("added user %s (uid %s)\nkey: %s\n"
		       "The key is shown only this once: store it now.\n", name, uid, key);
	}
	return rc;
}

static int
cmd_user_add(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	const char *file = NULL, *pos[1];
	bool admin = false;
	const struct sl_ctl_opt opts[] = {
		{ "admin", NULL, &admin }, { "credentials", &file, NULL }, { NULL, NULL, NULL },
	};
	struct sl_ctl_reply r;
	int rc, fd = -1;
	json_t *a;

	rc = sl_ctl_parse_args(c, v, argc, argv, opts, pos, 1, 1);
	if (rc != 0)
		return rc;
	a = json_object();
	if (a == NULL)
		abort();
	rc = sl_ctl_arg_str(v, a, "name", pos[0]);
	if (rc == 0 && json_object_set_new(a, "admin", json_boolean(admin)) < 0)
		abort();
	/* Claim the file before the user exists: a key nobody can store is lost. */
	if (rc == 0 && file != NULL) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			sl_ctl_err("cannot create credentials file %s: %s%s", file, strerror(errno),
				   errno == EEXIST ? " (not overwriting it: remove it or pick "
						     "another file)" : "");
			rc = SL_CTL_EXIT_FAILED;
		}
	}
	if (rc == 0)
		rc = sl_ctl_call(c, "user.add", a, &r);
	json_decref(a);
	if (rc == 0) {
		rc = user_added(c, &r, pos[0], file, fd);
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
cmd_user_remove(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_name_verb(c, v, argc, argv, "user.remove", "removed user");
}

static void
print_user_list(json_t *res)
{
	static const char *const hdr[] = { "NAME", ">UID", "ADMIN" };
	static const char *const keys[] = { "name", "uid", "admin" };

	sl_ctl_print_objects(res, 3, hdr, keys);
}

static int
cmd_user_list(struct sl_ctl *c, const struct sl_ctl_verb *v, int argc, char **argv)
{
	return sl_ctl_read_verb(c, v, argc, argv, "user.list", NULL, 0, print_user_list);
}

const struct sl_ctl_verb sl_ctl_user_verbs[] = {
	{ "user", "add", "user add NAME [--admin] [--credentials FILE]",
	  "Add user NAME and print its key (64 hex digits). The key is shown this once\n"
	  "only. --credentials FILE writes \"user = NAME\" and \"key = HEX\" lines to FILE\n"
	  "(mode 0600) instead of printing the key; an existing FILE is never\n"
	  "overwritten. With -q only the key is printed, for $(...).\n", cmd_user_add },
	{ "user", "remove", "user remove NAME",
	  "Remove user NAME: its ACL entries go too and its sessions end.\n", cmd_user_remove },
	{ "user", "list", "user list", "List users (never their keys).\n", cmd_user_list },
	{ NULL, NULL, NULL, NULL, NULL },
};
