/* tlsname.c: RFC 5922 names from certificate SANs, shared by fedgate and fedq --probe. */
#include <string.h>
#include <strings.h>

#include "list.h"
#include "tlsname.h"

int
tls_name_from_san(const char *v, size_t n, int is_uri, char out[TLS_NAME_MAX])
{
	size_t i;

	if (v == NULL)
		return -1;
	if (is_uri) {
		if (n < 4 || strncasecmp(v, "sip:", 4) != 0)
			return -1;
		v += 4;
		n -= 4;
		for (i = 0; i < n && v[i] != ';' && v[i] != '?'; i++)
			if (v[i] == '@' || v[i] == ':')
				return -1;	/* a user or a port: not a domain */
		n = i;
	}
	if (n == 0 || memchr(v, '*', n) != NULL)
		return -1;
	if (domain_normalize(v, n, 0, out, TLS_NAME_MAX, NULL) != 0)
		return -1;
	return 0;
}

int
tls_names_add(char names[][TLS_NAME_MAX], unsigned *n, const char *v,
    size_t len, int is_uri)
{
	char name[TLS_NAME_MAX];
	unsigned i;

	if (*n >= TLS_NAMES_MAX || tls_name_from_san(v, len, is_uri, name) != 0)
		return 0;
	for (i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return 0;
	memcpy(names[*n], name, strlen(name) + 1);
	(*n)++;
	return 1;
}
