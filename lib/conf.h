/* conf.h: fed.conf, every key with its built-in default (fed.conf(5)). */
#ifndef CONF_H
#define CONF_H

#include <sys/socket.h>

#include "fed.h"
#include "sip.h"

#define CONF_DEFAULT_PATH "/etc/fedkit/fed.conf"
#define CONF_DEFAULT_USER "fedkit"
#define CONF_USER_MAX	32	/* useradd's limit */
#define CONF_FILE_MAX	((size_t)1 << 20)	/* a config is small */

enum conf_federation { FED_OPEN, FED_ALLOWLIST, FED_OFF };
enum conf_verify { VERIFY_AUTO, VERIFY_SRV, VERIFY_NONE }; /* AUTO: srv with TLS */
enum conf_tls { TLS_ON, TLS_OFF };

/* A list value: owned strings. */
struct conf_strv {
	char **v;
	size_t n;
};

struct conf {
	char *path;			/* file read, NULL if defaults only */

	struct conf_strv local_domains;	/* no default; `.suffix` allowed */
	enum conf_federation federation;	/* open */
	unsigned discovered_rate;	/* 20 requests/s */
	unsigned max_uris;		/* 1000 */
	unsigned report_period;		/* 3600 s */
	unsigned char failure_code[700];	/* 403,404,410,484,485,604 */
	unsigned suspect_min_responses;	/* 20 */
	double suspect_fail_share;	/* 0.5 */
	unsigned suspicious_rate;	/* 1 request/s */
	unsigned watch_expire;		/* 0 s: until cleared */
	unsigned max_partners;		/* 100000 partners kept in state */
	unsigned max_new_partners;	/* 1000 new partners a peer may bring
					 * per report_period */
	unsigned max_refusals;		/* 100 refusals a connection may get
					 * at once, then one per 10 s / 100 */
	struct conf_strv methods;	/* INVITE ACK BYE ... PUBLISH */
	struct conf_strv refuse_user_agents;	/* friendly-scanner ... */
	enum conf_verify verify;	/* auto */
	enum conf_tls tls;		/* on */
	char *tls_cert, *tls_key, *tls_ca, *tls_crl;	/* NULL */

	char *allow_list;		/* /etc/fedkit/allow */
	char *block_list;		/* /etc/fedkit/block */
	char *edge_cache;		/* /var/lib/fedkit/edges */
	char *state_dir;		/* /var/lib/fedkit */
	char *watch_list;		/* STATE_DIR/watch (conf_load sets it) */
	char *verdict_log;		/* /var/log/fedkit/verdicts.log */

	char *upstream;			/* HOST:PORT, NULL: only -u */
	struct sip_limits limits;	/* max_message, max_line, max_headers */
	unsigned message_timeout;	/* 10 s to receive one whole message */
	unsigned idle_timeout;		/* 300 s without a byte */
	unsigned upstream_timeout;	/* 5 s */
	/* A listening socket (fedgate(8) Listener mode): connections served
	 * at once, in all and from one source address. */
	unsigned max_connections;	/* 512 */
	unsigned max_connections_per_source;	/* 32 */
	unsigned connections_per_process;	/* 100: a listener's worker */
	/* Behind a load balancer (fedkit(7) POOL): the PROXY protocol
	 * header, read from these addresses only. */
	int proxy_protocol;		/* 0 (off) */
	struct conf_strv proxy_from;	/* ADDR[/BITS] ..., none */
	/* An edge pool's shared state (fedkit(7) POOL). */
	char *redis;			/* HOST:PORT or /socket; NULL: none */
	char *redis_password;		/* NULL: no AUTH */
	int redis_down_refuse;		/* 0: redis_down = local */

	/* Least privilege (fedgate started as root in socket mode). */
	char *user;			/* fedkit: whom to become */
	int seccomp;			/* 1 (on): confine the system calls */
};

/* Built-in defaults only (what runs with no fed.conf). */
void conf_defaults(struct conf *);

/*
 * Load the configuration: `path` (from -c) if not NULL, else $FEDKIT_CONF
 * if set, else CONF_DEFAULT_PATH if it exists, else defaults only.  A
 * named file that is missing is an error; so is any bad line:
 * "FILE:LINE: problem".  Returns 0 or -1 with *err set.  *conf is set to
 * conf_defaults first (pass a fresh or conf_free'd struct); on error it
 * still holds only owned memory: conf_free it.
 */
int conf_load(struct conf *, const char *path, struct fed_err *);

/*
 * Parse a buffer as the contents of file `name` over the current values
 * (start from conf_defaults).  A key given twice in the buffer is an error.
 */
int conf_parse(struct conf *, const char *name, const char *buf, size_t len,
    struct fed_err *);

void conf_free(struct conf *);

/* "30s", "60m", "1h", "1d", bare seconds.  0 or -1. */
int conf_parse_duration(const char *, unsigned *seconds);

/* The known key nearest to `key` (edit distance), or NULL if none is close. */
const char *conf_suggest_key(const char *key);

/* Is `domain` (lowercase) one of local_domains (exact or `.suffix`)? */
int conf_is_local(const struct conf *, const char *domain);

/* Are local_domains set?  fedgate cannot run without them, and fedgate -t,
 * fedlist check and a reload of fed.conf ask the same.  0, or -1 with
 * `FILE: local_domains is not set: ...`. */
int conf_check_local_domains(const struct conf *, struct fed_err *);

/* Is `method` in the methods list? */
int conf_method_allowed(const struct conf *, struct fed_str method);

/* Is the address (AF_INET or AF_INET6; an IPv4-mapped IPv6 one as IPv4)
 * one of proxy_from?  0 when proxy_protocol is off. */
int conf_proxy_trusted(const struct conf *, const struct sockaddr_storage *);

/* Does the User-Agent contain one of refuse_user_agents (any case)? */
int conf_ua_refused(const struct conf *, struct fed_str user_agent);

#endif
