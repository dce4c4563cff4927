/* SPDX-License-Identifier: BSD-3-Clause */
/* An application of the installed libsluice: only <sluice/sluice.h>, only sl_client_* calls. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sluice/sluice.h>

int
main(int argc, char **argv)
{
	struct sl_client_opts o;
	struct sl_client *c = NULL;
	const char msg[] = "hello";
	uint32_t topic = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SHM_SOCKET\n", argv[0]);
		return 2;
	}
	memset(&o, 0, sizeof(o));
	o.shm = argv[1];
	o.name = "install-test";
	o.timeout_ms = 200;
	rc = sl_client_connect(&c, &o);
	if (rc == 0) {
		/* Not expected (nothing listens there), but what a publisher does. */
		rc = sl_client_resolve(c, "install.test", 1, &topic);
		if (rc == 0)
			rc = sl_client_publish(c, topic, msg, sizeof(msg), sl_now_ns(),
					       SL_PUB_F_ACK_REQ);
		sl_client_close(c);
		fprintf(stderr, "connected to %s, which should not exist (rc %d)\n", argv[1], rc);
		return 1;
	}
	if (rc != -ENOENT) {
		fprintf(stderr, "sl_client_connect: %s, expected %s\n", strerror(-rc),
			strerror(ENOENT));
		return 1;
	}
	/* The words for a broker's refusal come from the library too. */
	if (sl_error_code_str(SL_E_DENIED) == NULL || sl_error_code_str(SL_E_DENIED)[0] == '\0') {
		fprintf(stderr, "sl_error_code_str(SL_E_DENIED) has no words\n");
		return 1;
	}
	printf("sl_client_connect to %s: %s, as expected (SL_E_DENIED: %s)\n", argv[1],
	       strerror(-rc), sl_error_code_str(SL_E_DENIED));
	return 0;
}
