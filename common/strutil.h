/* SPDX-License-Identifier: BSD-3-Clause */
/* Small string helpers shared by the configuration readers and the name escapes. */

#ifndef SLUICE_STRUTIL_H
#define SLUICE_STRUTIL_H

#include <ctype.h>
#include <string.h>

/* @s without its leading and trailing white space: returns a pointer into
 * @s, whose trailing white space is overwritten with NULs. */
static inline char *
sl_str_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* The value of hex digit @c as the escapes of topic names write it
 * (0-9, A-F), or -1: lower case is never written, so never read. */
static inline int
sl_hex_upper_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif /* SLUICE_STRUTIL_H */
