/* state.c: the local partner store: LMDB, one transaction a decision. */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "state.h"
#include "statepool.h"

#define FORMAT_LINE	"fedkit-state 2\n"
#define SWEEP_MAX	1000	/* idle entries removed a tick, at most */
#define EVICT_SCAN	64	/* oldest entries looked at to make room */
#define URI_ENTRY	16	/* {hash BE, first_ms} */
#define IDLE_KEY_MAX	511	/* LMDB's key limit */
#define PEER_KEY_MAX	(IDLE_KEY_MAX - 8)

struct store {
	MDB_env *env;
	MDB_dbi meta, partners, uris, idle, held, peers, peeridle;
};

struct state {
	struct state_params sp;
	struct store s;
	struct store real;	/* dry run: the real store, read only */
	int has_real;
	int dry_run;
	char *dir;		/* dry run: the private directory to remove */
	uint64_t hashkey[2];
	int64_t tick_ms;
	int dirty;		/* written since the last flush */
	/* state_batch: one write transaction for several decisions */
	int batching;
	MDB_txn *btxn;
	unsigned bcount;
	int bchanged, bdurable;
	int blost;		/* an error threw away decisions of the batch */
	char warning[640];	/* state_warning */
	/* fedkit(7) POOL: the shared store, this one the fallback */
	struct pool *pool;
	int pooled;		/* the last decision was the pool's */
};

static int batch_commit(struct state *, struct fed_err *);

/* The peer counter of max_new_partners. */
struct peer_rec {
	int64_t window_ms;
	/* cppcheck-suppress unusedStructMember ; the hole before last_ms, named so it is stored zeroed */
	uint32_t count, pad;
	int64_t last_ms;
};

static int
lmdb_fail(struct fed_err *err, const char *what, int rc)
{
	fed_err_set(err, "partner state: %s: %s", what, mdb_strerror(rc));
	return -1;
}

static MDB_val
val_of(const void *p, size_t n)
{
	MDB_val v;

	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

/* ---- opening ---- */

static int
check_format(const char *dir, int create, struct fed_err *err)
{
	char *path = fed_concat(dir, "/format"), *buf = NULL;
	struct afile af;
	size_t len;
	int rc = -1, v;

	if (path == NULL) {
		fed_err_set(err, "%s: %s", dir, strerror(ENOMEM));
		return -1;
	}
	if (fed_read_file(path, 4096, &buf, &len, err) == 0) {
		if (sscanf(buf, "fedkit-state %d", &v) != 1)
			fed_err_set(err, "%s: not a fedkit state directory "
			    "(first line \"fedkit-state 2\" expected)", path);
		else if (v == 1)
			fed_err_set(err, "%s: state format version 1 (a file "
			    "per partner), this fedkit keeps version 2: stop "
			    "fedgate, move %s aside (its watched partners are "
			    "the files in partners/ with a watch line: add "
			    "them to the watch list) and start it again", path,
			    dir);
		else if (v != STATE_VERSION)
			fed_err_set(err, "%s: state format version %d, this "
			    "fedkit reads version %d", path, v, STATE_VERSION);
		else
			rc = 0;
		goto done;
	}
	if (errno != ENOENT || !create)
		goto done;
	if (afile_begin(&af, path, 0640, err) != 0)
		goto done;
	fputs(FORMAT_LINE, af.fp);
	rc = afile_commit(&af, err);
done:
	free(buf);
	free(path);
	return rc;
}

/*
 * Run as root (fedlist by an operator), a file LMDB just made is root's:
 * give it the directory's owner, or fedgate's own user could not open it
 * (fedkit(7): every tool leaves files fedgate's user can use).
 */
static void
keep_owner(const char *dir, const char *name)
{
	struct stat ds, fs;
	char *path;

	if (geteuid() != 0 || stat(dir, &ds) != 0 ||
	    (path = fed_concat(dir, name)) == NULL)
		return;
	/*
	 * By path, never open(2) and close(2): closing any descriptor of
	 * the lock file would drop LMDB's fcntl lock on it, and the next
	 * process to open the store would take itself for the first and
	 * set the lock table up again under the others' feet.  Best effort:
	 * if it fails, fedgate's open says why.
	 */
	if (lstat(path, &fs) == 0 && S_ISREG(fs.st_mode) &&
	    (fs.st_uid != ds.st_uid || fs.st_gid != ds.st_gid) &&
	    lchown(path, ds.st_uid, ds.st_gid) != 0)
		fs.st_uid = ds.st_uid;
	free(path);
}

static int
is_symlink(const char *path, const char *suffix)
{
	struct stat st;
	char *p = fed_concat(path, suffix);
	int link;

	link = p != NULL && lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
	free(p);
	return link;
}

/* An LMDB error opening DIR's store: said, and kept in *why, whose
 * unreadable() kinds have the caller set the store aside. */
static int
store_fail(const char *dir, int rc, int *why, struct fed_err *err)
{
	*why = rc;
	fed_err_set(err, "%s/counters.mdb: %s", dir, mdb_strerror(rc));
	return -1;
}

/* The LMDB environment of DIR/counters.mdb, never through a link. */
static int
env_open(struct store *s, const char *dir, int rdonly, int *why,
    struct fed_err *err)
{
	char *path = fed_concat(dir, "/counters.mdb");
	unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD;
	int rc, dead;

	if (path == NULL) {
		fed_err_set(err, "%s: %s", dir, strerror(ENOMEM));
		return -1;
	}
	flags |= rdonly ? MDB_RDONLY : MDB_NOSYNC | MDB_WRITEMAP;
	/* LMDB opens its files without O_NOFOLLOW: a link planted in the
	 * state directory (writable by fedgate's user) would have a root
	 * fedlist create or write the file it names.  The check races only
	 * with that directory's owner. */
	if (is_symlink(path, "") || is_symlink(path, "-lock")) {
		fed_err_set(err, "%s: a symbolic link (or its -lock): the state "
		    "store is never opened through one (remove it)", path);
		free(path);
		return -1;
	}
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, 8)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, 1024)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, STATE_MAP_BYTES)) != 0 ||
	    (rc = mdb_env_open(s->env, path, flags, 0660)) != 0) {
		*why = rc;
		fed_err_set(err, "%s: %s", path, mdb_strerror(rc));
		free(path);
		if (s->env != NULL)
			mdb_env_close(s->env);
		s->env = NULL;
		return -1;
	}
	free(path);
	/* Readers killed by kill -9 keep their slot until someone looks. */
	(void)mdb_reader_check(s->env, &dead);
	return 0;
}

/* The store's tables, made by the first writer. */
static int
tables_open(MDB_txn *txn, struct store *s, const char *dir, int rdonly,
    int *why, struct fed_err *err)
{
	unsigned flags = rdonly ? 0 : MDB_CREATE;
	int rc;

	if ((rc = mdb_dbi_open(txn, "meta", flags, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "partners", flags, &s->partners)) != 0 ||
	    (rc = mdb_dbi_open(txn, "uris", flags | MDB_DUPSORT |
	    MDB_DUPFIXED, &s->uris)) != 0 ||
	    (rc = mdb_dbi_open(txn, "idle", flags, &s->idle)) != 0 ||
	    (rc = mdb_dbi_open(txn, "held", flags, &s->held)) != 0 ||
	    (rc = mdb_dbi_open(txn, "peers", flags, &s->peers)) != 0 ||
	    (rc = mdb_dbi_open(txn, "peeridle", flags, &s->peeridle)) != 0)
		return store_fail(dir, rc, why, err);
	return 0;
}

/* A new store: its version, and the key of its URI hashes, drawn once. */
static int
meta_create(MDB_txn *txn, const struct store *s, const char *dir, int *why,
    struct fed_err *err)
{
	uint32_t ver = STATE_VERSION;
	uint64_t nk[2];
	MDB_val k = val_of("version", 7), v = val_of(&ver, sizeof ver);
	int rc;

	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
		return store_fail(dir, rc, why, err);
	if (getrandom(nk, sizeof nk, 0) != sizeof nk) {
		fed_err_set(err, "partner state: getrandom: %s",
		    strerror(errno));
		return -1;
	}
	k = val_of("hashkey", 7);
	v = val_of(nk, sizeof nk);
	if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) != 0)
		return store_fail(dir, rc, why, err);
	return 0;
}

/* The store's version: this fedkit's, or made so in a new store. */
static int
meta_version(MDB_txn *txn, const struct store *s, const char *dir,
    int rdonly, int *why, struct fed_err *err)
{
	MDB_val k = val_of("version", 7), v;
	uint32_t ver = 0;	/* said as 0 if the value is not 4 octets */
	int rc;

	if ((rc = mdb_get(txn, s->meta, &k, &v)) == MDB_NOTFOUND && !rdonly)
		return meta_create(txn, s, dir, why, err);
	if (rc != 0)
		return store_fail(dir, rc, why, err);
	if (v.mv_size != sizeof ver ||
	    (memcpy(&ver, v.mv_data, sizeof ver), ver != STATE_VERSION)) {
		fed_err_set(err, "%s/counters.mdb: store version %u, this "
		    "fedkit reads version %d", dir, (unsigned)ver,
		    STATE_VERSION);
		return -1;
	}
	return 0;
}

/* The key of the store's URI hashes (uri_entry). */
static int
hashkey_read(MDB_txn *txn, const struct store *s, const char *dir,
    uint64_t key[2], int *why, struct fed_err *err)
{
	MDB_val k = val_of("hashkey", 7), v;
	int rc;

	if ((rc = mdb_get(txn, s->meta, &k, &v)) != 0 ||
	    v.mv_size != 2 * sizeof key[0])
		return store_fail(dir, rc != 0 ? rc : MDB_CORRUPTED, why, err);
	memcpy(key, v.mv_data, 2 * sizeof key[0]);
	return 0;
}

/* DIR's store, read only or made if new, and its URI hash key: 0, or -1
 * with err said and *why the LMDB error if there was one. */
static int
store_open(struct store *s, const char *dir, int rdonly, uint64_t key[2],
    int *why, struct fed_err *err)
{
	MDB_txn *txn;
	int rc;

	memset(s, 0, sizeof *s);
	*why = 0;
	if (env_open(s, dir, rdonly, why, err) != 0)
		return -1;
	if ((rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0,
	    &txn)) != 0)
		store_fail(dir, rc, why, err);
	else if (tables_open(txn, s, dir, rdonly, why, err) != 0 ||
	    meta_version(txn, s, dir, rdonly, why, err) != 0 ||
	    hashkey_read(txn, s, dir, key, why, err) != 0)
		mdb_txn_abort(txn);
	else if ((rc = mdb_txn_commit(txn)) != 0)
		store_fail(dir, rc, why, err);
	else
		return 0;
	mdb_env_close(s->env);
	s->env = NULL;
	return -1;
}

static int
exists(const char *dir, const char *name)
{
	char *p = fed_concat(dir, name);
	int ok = p != NULL && access(p, F_OK) == 0;

	free(p);
	return ok;
}

/* What an operating-system crash between flushes can leave (MDB_NOSYNC). */
static int
unreadable(int rc)
{
	return rc == MDB_INVALID || rc == MDB_CORRUPTED ||
	    rc == MDB_PAGE_NOTFOUND;
}

/*
 * An unreadable store must not take federation down: it is moved aside
 * (counters.mdb.bad-MS, kept for a look) and counting starts again.  The
 * watch list, a file of its own, is untouched.  Said once through
 * state_warning.
 */
static int
set_aside(struct state *st, const char *dir, struct fed_err *err)
{
	char *from = fed_concat(dir, "/counters.mdb");
	char *lock = fed_concat(dir, "/counters.mdb-lock");
	char to[4096];
	int rc = -1;

	if (from == NULL || lock == NULL) {
		fed_err_set(err, "%s: %s", dir, strerror(ENOMEM));
		goto out;
	}
	snprintf(to, sizeof to, "%s.bad-%lld-%ld", from,
	    (long long)fed_now_ms(), (long)getpid());
	if (rename(from, to) != 0 && errno != ENOENT) {
		fed_err_set(err, "%s: unreadable, and cannot be moved aside: %s",
		    from, strerror(errno));
		goto out;
	}
	(void)unlink(lock);
	snprintf(st->warning, sizeof st->warning, "%.200s was unreadable "
	    "(an operating-system crash?): moved aside to %.220s, counting "
	    "starts again; the watch list is kept", from, to);
	rc = 0;
out:
	free(from);
	free(lock);
	return rc;
}

/*
 * Under the state directory's lock (`format`'s afile lock), so that of
 * processes started together after a crash one moves the store aside and
 * the others find the new one: look again, and move it only if it is
 * still unreadable.
 */
static int
recover(struct state *st, const char *dir, struct fed_err *err)
{
	char *fmt = fed_concat(dir, "/format");
	int fd = -1, why, rc = -1;

	if (fmt == NULL) {
		fed_err_set(err, "%s: %s", dir, strerror(ENOMEM));
		return -1;
	}
	if (afile_lock(fmt, 0, &fd, err) != 0)
		goto out;
	if (store_open(&st->s, dir, 0, st->hashkey, &why, err) == 0) {
		rc = 0;		/* another process made a new one */
		goto out;
	}
	if (unreadable(why) && set_aside(st, dir, err) == 0 &&
	    store_open(&st->s, dir, 0, st->hashkey, &why, err) == 0)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(fmt);
	return rc;
}

void
state_set_params(struct state *st, const struct state_params *sp)
{
	st->sp = *sp;
	if (st->pool != NULL)
		pool_set_params(st->pool, sp);
}

const char *
state_news(struct state *st)
{
	return st->pool != NULL ? pool_news(st->pool) : NULL;
}

int
state_watch_kept(const struct state *st)
{
	return st->pooled;
}

int
state_plans(const struct state *st)
{
	/* a dry run's decisions are its private store's, never planned */
	return st->pool != NULL && st->batching && !st->dry_run;
}

int
state_pooled(const struct state *st)
{
	return st->pool != NULL;
}

int
state_plan(struct state *st, const struct state_req *q, int64_t now_ms)
{
	return st->pool != NULL ? pool_plan(st->pool, q, now_ms) : 0;
}

int
state_plan_run(struct state *st, int64_t now_ms, struct fed_err *err)
{
	return st->pool != NULL ? pool_plan_run(st->pool, now_ms, err) : 0;
}

/* With a pool: 1 if it is there to be asked now. */
static int
pooled(struct state *st, int64_t now_ms)
{
	return st->pool != NULL && pool_up(st->pool, now_ms);
}

static int
pool_down_err(struct state *st, struct fed_err *err)
{
	fed_err_set(err, "redis %s: %s (the pool's state cannot be read)",
	    st->sp.redis, pool_why(st->pool));
	return -1;
}

const char *
state_warning(const struct state *st)
{
	return st->warning[0] != '\0' ? st->warning : NULL;
}

static int
open_pool(struct state *st, struct fed_err *err)
{
	if (st->sp.redis == NULL || st->sp.redis[0] == '\0')
		return 0;
	return pool_open(&st->pool, &st->sp, st->dry_run, fed_now_ms(), err);
}

/* A dry run's stores: the real one read only, if it is there, and a
 * private one in a directory of its own under TMPDIR that decides. */
static int
dry_open(struct state *st, const char *dir, struct fed_err *err)
{
	uint64_t realkey[2];
	char tmpl[4096];
	int why;
	const char *tmp = getenv("TMPDIR");

	/* The real store is only read, and only if it is there; a directory
	 * of another version is refused as a live one is. */
	if (exists(dir, "/format") && check_format(dir, 0, err) != 0)
		return -1;
	if (exists(dir, "/counters.mdb") &&
	    exists(dir, "/counters.mdb-lock")) {
		if (check_format(dir, 0, err) != 0 ||
		    store_open(&st->real, dir, 1, realkey, &why, err) != 0)
			return -1;
		st->has_real = 1;
	}
	snprintf(tmpl, sizeof tmpl, "%s/fedkit-dry.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmpl) == NULL || (st->dir = strdup(tmpl)) == NULL) {
		fed_err_set(err, "%s: %s", tmpl, strerror(errno));
		return -1;
	}
	if (store_open(&st->s, st->dir, 0, st->hashkey, &why, err) != 0)
		return -1;
	if (st->has_real)	/* URI hashes must match the real ones */
		memcpy(st->hashkey, realkey, sizeof realkey);
	return 0;
}

/* The live store in DIR, made if new, set aside and made again if a
 * crash left it unreadable (recover). */
static int
live_open(struct state *st, const char *dir, struct fed_err *err)
{
	int why;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		fed_err_set(err, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (check_format(dir, 1, err) != 0)
		return -1;
	if (store_open(&st->s, dir, 0, st->hashkey, &why, err) != 0 &&
	    (!unreadable(why) || recover(st, dir, err) != 0))
		return -1;
	keep_owner(dir, "/format");
	keep_owner(dir, "/counters.mdb");
	keep_owner(dir, "/counters.mdb-lock");
	return 0;
}

int
state_open(struct state **stp, const char *dir, const struct state_params *sp,
    int dry_run, struct fed_err *err)
{
	struct state *st;
	int rc;

	*stp = NULL;
	if ((st = calloc(1, sizeof *st)) == NULL) {
		fed_err_set(err, "partner state: %s", strerror(errno));
		return -1;
	}
	st->sp = *sp;
	st->dry_run = dry_run;
	if (dry_run)
		rc = dry_open(st, dir, err);
	else if (sp->pool_only && sp->redis != NULL && sp->redis[0] != '\0' &&
	    !exists(dir, "/counters.mdb"))
		rc = 0;		/* the pool alone: no local store */
	else
		rc = live_open(st, dir, err);
	if (rc != 0 || open_pool(st, err) != 0) {
		state_close(st, NULL);
		return -1;
	}
	*stp = st;
	return 0;
}

static void
remove_tree(const char *dir)
{
	static const char *const names[] = { "/counters.mdb",
	    "/counters.mdb-lock" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((p = fed_concat(dir, names[i])) != NULL) {
			unlink(p);
			free(p);
		}
	rmdir(dir);
}

int
state_close(struct state *st, struct fed_err *err)
{
	int rc = 0;

	if (st == NULL)
		return 0;
	pool_close(st->pool);
	if (st->btxn != NULL && batch_commit(st, err) != 0)
		rc = -1;
	if (st->s.env != NULL) {
		/*
		 * A process that exits (an inetd connection's) starts the
		 * write-back of what it changed and does not wait for it:
		 * waiting would be a sync per connection.  What it changed is
		 * on disk a moment later, as the tick's flush would have it.
		 */
		int fd;

		if (st->dirty && !st->dry_run &&
		    mdb_env_get_fd(st->s.env, &fd) == 0 &&
		    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
			if (err != NULL)
				fed_err_set(err, "partner state: write-back: %s",
				    strerror(errno));
			rc = -1;
		}
		mdb_env_close(st->s.env);
	}
	if (st->real.env != NULL)
		mdb_env_close(st->real.env);
	if (st->dir != NULL) {
		remove_tree(st->dir);
		free(st->dir);
	}
	free(st);
	return rc;
}

/* ---- records ---- */

/* A partner's record and peers; 0 found, MDB_NOTFOUND, or an error. */
static int
rec_get(MDB_txn *txn, const struct store *s, const char *domain,
    struct staterec *r, struct staterec_peer *pe, unsigned *npe)
{
	MDB_val k = val_of(domain, strlen(domain)), v;
	int rc;

	if ((rc = mdb_get(txn, s->partners, &k, &v)) != 0)
		return rc;
	switch (staterec_decode(v.mv_data, v.mv_size, r, pe, npe)) {
	case 0:
		return 0;
	case -2:
		return MDB_INCOMPATIBLE;
	default:
		return MDB_CORRUPTED;
	}
}

static int
rec_put(MDB_txn *txn, const struct store *s, const char *domain,
    const struct staterec *r, const struct staterec_peer *pe, unsigned npe)
{
	unsigned char buf[STATEREC_BYTES_MAX];
	MDB_val k = val_of(domain, strlen(domain)), v;

	v.mv_size = staterec_encode(r, pe, npe, buf, sizeof buf);
	v.mv_data = buf;
	return mdb_put(txn, s->partners, &k, &v, 0);
}

static size_t
idle_key(unsigned char *buf, int64_t ms, const char *name)
{
	uint64_t sec = ms > 0 ? (uint64_t)ms / 1000 : 0;
	size_t n = strlen(name), i;

	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)(sec >> (56 - 8 * i));
	if (n > IDLE_KEY_MAX - 8)
		n = IDLE_KEY_MAX - 8;
	memcpy(buf + 8, name, n);
	return 8 + n;
}

/* Move name in an idle index from its old last-seen second to the new. */
static int
idle_move(MDB_txn *txn, MDB_dbi dbi, const char *name, int64_t old_ms,
    int64_t new_ms)
{
	unsigned char kb[IDLE_KEY_MAX];
	MDB_val k, v = val_of("", 0);
	int rc;

	if (old_ms != 0) {
		if (old_ms / 1000 == new_ms / 1000)
			return 0;
		k = val_of(kb, idle_key(kb, old_ms, name));
		if ((rc = mdb_del(txn, dbi, &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			return rc;
	}
	k = val_of(kb, idle_key(kb, new_ms, name));
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Watched and suspicious partners are kept in an index of their own,
 * swept like the others but never dropped to make room. */
static int
is_held(const struct staterec *r)
{
	return r->watch_ms != 0 || r->suspicious_ms != 0;
}

static MDB_dbi
index_of(const struct store *s, const struct staterec *r)
{
	return is_held(r) ? s->held : s->idle;
}

/* Keep the partner's index entry where `after` belongs: its kind and its
 * last-seen second.  `before` is the record as read (last_ms 0: new). */
static int
index_update(MDB_txn *txn, const struct store *s, const char *domain,
    const struct staterec *before, const struct staterec *after)
{
	unsigned char kb[IDLE_KEY_MAX];
	MDB_val k, v = val_of("", 0);
	MDB_dbi from = index_of(s, before), to = index_of(s, after);
	int rc;

	if (before->last_ms != 0) {
		if (from == to && before->last_ms / 1000 ==
		    after->last_ms / 1000)
			return 0;
		k = val_of(kb, idle_key(kb, before->last_ms, domain));
		if ((rc = mdb_del(txn, from, &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			return rc;
	}
	k = val_of(kb, idle_key(kb, after->last_ms, domain));
	return mdb_put(txn, to, &k, &v, 0);
}

/* Forget a partner: record, URIs, index entry. */
static int
partner_del(MDB_txn *txn, const struct store *s, const char *domain,
    const struct staterec *r)
{
	unsigned char kb[IDLE_KEY_MAX];
	MDB_val k = val_of(domain, strlen(domain));
	int rc;

	if ((rc = mdb_del(txn, s->partners, &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_del(txn, s->uris, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	k = val_of(kb, idle_key(kb, r->last_ms, domain));
	if ((rc = mdb_del(txn, index_of(s, r), &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	return 0;
}

/* ---- distinct URIs ---- */

static void
uri_entry(const struct state *st, const char *uri, int64_t now_ms,
    unsigned char out[URI_ENTRY])
{
	uint64_t h = fed_siphash(st->hashkey, uri, strlen(uri));
	int i;

	/* Big-endian, so the dup order is the hash order and a lookup by
	 * hash alone can use MDB_GET_BOTH_RANGE. */
	for (i = 0; i < 8; i++)
		out[i] = (unsigned char)(h >> (56 - 8 * i));
	memcpy(out + 8, &now_ms, 8);
}

/* Is the URI of `ent` among the partner's?  *found; an LMDB error. */
static int
uri_has(MDB_txn *txn, const struct store *s, const char *domain,
    const unsigned char ent[URI_ENTRY], int *found)
{
	unsigned char probe[URI_ENTRY];
	MDB_cursor *c;
	MDB_val k = val_of(domain, strlen(domain)), v;
	int rc;

	*found = 0;
	memcpy(probe, ent, 8);
	memset(probe + 8, 0, 8);
	v = val_of(probe, sizeof probe);
	if ((rc = mdb_cursor_open(txn, s->uris, &c)) != 0)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
	if (rc == 0)
		*found = v.mv_size == URI_ENTRY &&
		    memcmp(v.mv_data, ent, 8) == 0;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Drop URIs first seen more than report_period ago.  Run only when the
 * oldest is a slot (period / 12) past due, so a partner's set is walked
 * at most a dozen times a period, not at every request.
 */
static int
uris_expire(struct state *st, MDB_txn *txn, const char *domain,
    struct staterec *r, int64_t now_ms)
{
	int64_t period = (int64_t)st->sp.report_period * 1000;
	int64_t cutoff = now_ms - period, first, oldest = 0;
	MDB_cursor *c;
	MDB_val k = val_of(domain, strlen(domain)), v;
	uint32_t n = 0;
	int rc;

	if (r->nuris == 0 || r->uri_oldest_ms >= cutoff - period /
	    STATEREC_SLOTS)
		return 0;
	if ((rc = mdb_cursor_open(txn, st->s.uris, &c)) != 0)
		return rc;
	/* After mdb_cursor_del the cursor stands on the next duplicate,
	 * which MDB_NEXT_DUP then returns rather than skips. */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		memcpy(&first, (const char *)v.mv_data + 8, 8);
		if (first < cutoff) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			continue;
		}
		n++;
		if (oldest == 0 || first < oldest)
			oldest = first;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	r->nuris = n;
	r->uri_oldest_ms = oldest;
	return 0;
}

/* ---- capacity ---- */

/*
 * Make room for a partner: drop the longest-idle one.  The idle index
 * holds only partners neither watched nor suspicious (those are in
 * `held`), so its first entry is the one to go.  *done: room was made.
 */
static int
evict_one(struct state *st, MDB_txn *txn, int *done)
{
	struct staterec r;
	struct staterec_peer pe[STATEREC_PEERS];
	char dom[DOMAIN_MAX + 1];
	unsigned npe, i;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	*done = 0;
	if ((rc = mdb_cursor_open(txn, st->s.idle, &c)) != 0)
		return rc;
	/* Bounded: stray entries (no record) are removed on the way. */
	for (i = 0; i < EVICT_SCAN; i++) {
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0)
			break;
		if (k.mv_size <= 8 || k.mv_size - 8 > DOMAIN_MAX ||
		    (memcpy(dom, (const char *)k.mv_data + 8, k.mv_size - 8),
		    dom[k.mv_size - 8] = '\0',
		    rec_get(txn, &st->s, dom, &r, pe, &npe)) != 0) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			continue;
		}
		mdb_cursor_close(c);
		if ((rc = partner_del(txn, &st->s, dom, &r)) != 0)
			return rc;
		*done = 1;
		return 0;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static const char *
peer_key(const struct state_req *q)
{
	return q->peer_key != NULL ? q->peer_key : q->peer;
}

/*
 * The peer's count of new partners this report_period.  *pr is its
 * record (zero for a new peer), *k its key.
 */
static int
peer_get(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct peer_rec *pr, MDB_val *k)
{
	const char *name = peer_key(q);
	size_t n = strlen(name);
	MDB_val v;
	int rc;

	if (n > PEER_KEY_MAX)
		n = PEER_KEY_MAX;	/* room for the idle index's time */
	*k = val_of(name, n);
	memset(pr, 0, sizeof *pr);
	rc = mdb_get(txn, st->s.peers, k, &v);
	if (rc == 0 && v.mv_size == sizeof *pr)
		memcpy(pr, v.mv_data, sizeof *pr);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (now_ms - pr->window_ms >= (int64_t)st->sp.report_period * 1000 ||
	    now_ms < pr->window_ms) {
		pr->window_ms = now_ms;
		pr->count = 0;
	}
	return 0;
}

/* Count one more new partner for the peer; the peer table is bounded
 * as partners are, the peer idle longest going first. */
static int
peer_count(struct state *st, MDB_txn *txn, struct peer_rec *pr,
    const MDB_val *k, int64_t now_ms)
{
	char nm[PEER_KEY_MAX + 1];
	MDB_val v, kk;
	MDB_stat ms;
	int rc;

	if (pr->last_ms == 0 && mdb_stat(txn, st->s.peers, &ms) == 0 &&
	    ms.ms_entries >= st->sp.max_partners) {
		MDB_cursor *c;
		MDB_val ik, iv;

		if ((rc = mdb_cursor_open(txn, st->s.peeridle, &c)) != 0)
			return rc;
		if ((rc = mdb_cursor_get(c, &ik, &iv, MDB_FIRST)) == 0 &&
		    ik.mv_size > 8) {
			MDB_val pk = val_of((const char *)ik.mv_data + 8,
			    ik.mv_size - 8);

			if ((rc = mdb_del(txn, st->s.peers, &pk, NULL)) == 0 ||
			    rc == MDB_NOTFOUND)
				rc = mdb_cursor_del(c, 0);
		}
		mdb_cursor_close(c);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	pr->count++;
	memcpy(nm, k->mv_data, k->mv_size);
	nm[k->mv_size] = '\0';
	if ((rc = idle_move(txn, st->s.peeridle, nm, pr->last_ms, now_ms)) != 0)
		return rc;
	pr->last_ms = now_ms;
	v = val_of(pr, sizeof *pr);
	kk = *k;
	return mdb_put(txn, st->s.peers, &kk, &v, 0);
}

/* ---- dry run ---- */

/* Copy one record of a table from the real store into the private one,
 * once (it is then the private one's). */
static int
dry_pull_one(struct state *st, MDB_txn *txn, MDB_txn *rt, MDB_dbi priv,
    MDB_dbi real, MDB_val *k, int *pulled)
{
	MDB_val v;
	int rc;

	*pulled = 0;
	if ((rc = mdb_get(txn, priv, k, &v)) != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_get(rt, real, k, &v)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	*pulled = 1;
	(void)st;
	return mdb_put(txn, priv, k, &v, 0);
}

/* Dry run: bring the partner (its record and URIs) and the peer's count
 * of new partners from the real store into the private one. */
static int
dry_pull(struct state *st, MDB_txn *txn, const char *domain,
    const struct state_req *q)
{
	MDB_txn *rt;
	MDB_cursor *c;
	MDB_val k = val_of(domain, strlen(domain)), v;
	const char *pk = q != NULL ? peer_key(q) : NULL;
	int rc, pulled;

	if (!st->has_real)
		return 0;
	/* Once pulled, a partner (and its peer) is the private store's:
	 * no read of the real one on every later decision. */
	if (mdb_get(txn, st->s.partners, &k, &v) == 0) {
		if (pk == NULL)
			return 0;
		v = val_of(pk, strlen(pk) > PEER_KEY_MAX ? PEER_KEY_MAX :
		    strlen(pk));
		if (mdb_get(txn, st->s.peers, &v, &k) == 0)
			return 0;
		k = val_of(domain, strlen(domain));
	}
	if ((rc = mdb_txn_begin(st->real.env, NULL, MDB_RDONLY, &rt)) != 0)
		return rc;
	rc = dry_pull_one(st, txn, rt, st->s.partners, st->real.partners, &k,
	    &pulled);
	if (rc == 0 && pulled &&
	    (rc = mdb_cursor_open(rt, st->real.uris, &c)) == 0) {
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP))
			if ((rc = mdb_put(txn, st->s.uris, &k, &v, 0)) != 0)
				break;
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (rc == 0 && pk != NULL) {
		k = val_of(pk, strlen(pk) > PEER_KEY_MAX ? PEER_KEY_MAX :
		    strlen(pk));
		rc = dry_pull_one(st, txn, rt, st->s.peers, st->real.peers,
		    &k, &pulled);
	}
	mdb_txn_abort(rt);
	return rc;
}

/*
 * Dry run with a pool: the partner (its record, URIs, watch) and the
 * peer's count of new partners are copied from the pool into the private
 * store the first time they are asked for, then decided on there as on
 * the local store; nothing goes back.  The URIs keep the pool's hashes,
 * so the private store hashes with the pool's key.  0, or -1 with *err
 * (LMDB's error codes are negative too: they are said here, not passed up).
 */
static int
dry_pull_pool(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct fed_err *err)
{
	MDB_val k = val_of(q->domain, strlen(q->domain)), v, pk;
	const char *pkey = q->peer != NULL || q->peer_key != NULL ?
	    peer_key(q) : NULL;
	struct pool_pulled pp;
	unsigned char ent[URI_ENTRY];
	struct peer_rec pr;
	size_t i;
	int rc = 0, j, pulled;

	pulled = mdb_get(txn, st->s.partners, &k, &v) == 0;
	if (pkey != NULL) {
		pk = val_of(pkey, strlen(pkey) > PEER_KEY_MAX ? PEER_KEY_MAX :
		    strlen(pkey));
		if (pulled && mdb_get(txn, st->s.peers, &pk, &v) == 0)
			return 0;
	} else if (pulled)
		return 0;
	memcpy(st->hashkey, pool_hashkey(st->pool), sizeof st->hashkey);
	if ((rc = pool_pull(st->pool, q->domain, pkey, now_ms, &pp, err)) < 0)
		return -1;
	if (rc == POOL_DOWN)
		return 0;	/* decided as a new partner: said */
	if (!pulled && (pp.found || pp.rec.watch_ms != 0)) {
		for (i = 0; i < pp.nuris && rc == 0; i++) {
			for (j = 0; j < 8; j++)
				ent[j] = (unsigned char)(pp.uri_hash[i] >>
				    (56 - 8 * j));
			memcpy(ent + 8, &pp.uri_ms[i], 8);
			v = val_of(ent, sizeof ent);
			rc = mdb_put(txn, st->s.uris, &k, &v, 0);
		}
		if (rc == 0)
			rc = rec_put(txn, &st->s, q->domain, &pp.rec, pp.peer,
			    pp.npeer);
	}
	if (rc == 0 && pkey != NULL && pp.peer_count > 0 &&
	    mdb_get(txn, st->s.peers, &pk, &v) == MDB_NOTFOUND) {
		memset(&pr, 0, sizeof pr);
		pr.window_ms = pp.peer_window_ms;
		pr.count = pp.peer_count;
		pr.last_ms = now_ms;
		v = val_of(&pr, sizeof pr);
		rc = mdb_put(txn, st->s.peers, &pk, &v, 0);
	}
	pool_pulled_free(&pp);
	return rc == 0 ? 0 : lmdb_fail(err, "dry run", rc);
}

/* ---- the decision ---- */

static int
suspicious_now(const struct state *st, const struct staterec *r,
    int64_t now_ms)
{
	unsigned ok, fail;

	staterec_responses(r, now_ms, st->sp.report_period, &ok, &fail);
	return policy_suspicious(ok, fail, st->sp.suspect_min,
	    st->sp.suspect_share);
}

/* The operator removed the watch from the file (or it expired) and the
 * settling time is over: the partner starts again, as after a clear. */
static int
watch_lifted(struct state *st, MDB_txn *txn, const char *domain,
    struct staterec *r)
{
	MDB_val k = val_of(domain, strlen(domain));
	int rc;

	if ((rc = mdb_del(txn, st->s.uris, &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	r->watch_ms = 0;
	r->nuris = 0;
	r->uri_oldest_ms = 0;
	r->suspicious_ms = 0;
	memset(r->slot, 0, sizeof r->slot);
	return 0;
}

/*
 * A partner the store has no record of.  Nothing is kept for a watched
 * one; another gets a record if its peer's quota and the room allow:
 * *admitted then set and the quota spent, else *d decided.  0 or an LMDB
 * error.
 */
static int
new_partner(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct policy_facts *f, struct policy_decision *d,
    int *changed, int *admitted)
{
	struct peer_rec pr;
	MDB_val pk;
	MDB_stat ms;
	int rc, room, counted;

	f->uris_limited = q->uris_limited;
	f->max_uris = q->max_uris;
	f->rate_limited = q->rate > 0;
	f->token = 1;
	f->uri_new = 1;
	if (q->watched) {
		/* Without a count to weigh it by, its mark refuses (pool.lua
		 * alike). */
		f->watched = 1;
		*d = policy_decide(f);
		return 0;
	}
	/* The peer's quota first, then room; the quota is spent only on a
	 * partner that gets state.  Without a peer (pipe mode without
	 * --peer) there is no one to count by: max_partners alone bounds
	 * the state. */
	counted = q->discovered && (q->peer != NULL || q->peer_key != NULL);
	if (counted) {
		if ((rc = peer_get(st, txn, q, now_ms, &pr, &pk)) != 0)
			return rc;
		f->new_refused = pr.count >= st->sp.max_new_partners;
	}
	if (!f->new_refused && mdb_stat(txn, st->s.partners, &ms) == 0 &&
	    ms.ms_entries >= st->sp.max_partners) {
		if ((rc = evict_one(st, txn, &room)) != 0)
			return rc;
		f->new_refused = !room;
		*changed = room;
	}
	if (f->new_refused) {
		*d = policy_decide(f);
		return 0;
	}
	if (counted && (rc = peer_count(st, txn, &pr, &pk, now_ms)) != 0)
		return rc;
	*admitted = 1;
	return 0;
}

/* A record brought up to now: a watch the operator lifted (or that
 * expired) cleared once the settling time is over, and, while not
 * watched, the URIs older than uri_period forgotten. */
static int
rec_age(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct staterec *r)
{
	int rc;

	if (r->watch_ms != 0 && !q->watched && !st->dry_run &&
	    now_ms - r->watch_ms >= STATE_WATCH_SETTLE_MS &&
	    q->list_read_ms > r->watch_ms + STATE_WATCH_SETTLE_MS / 5 &&
	    (rc = watch_lifted(st, txn, q->domain, r)) != 0)
		return rc;
	if (!q->watched && r->watch_ms == 0)
		return uris_expire(st, txn, q->domain, r, now_ms);
	return 0;
}

/*
 * The facts of a request from a partner with a record: watched, its URI
 * new (ent its entry, when URIs are counted), suspicious, a token in its
 * bucket at *rate.  0 or an LMDB error.
 */
static int
known_facts(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, int watched, struct staterec *r,
    unsigned char ent[URI_ENTRY], unsigned *rate, struct policy_facts *f)
{
	int rc, has;

	f->uris_limited = q->uris_limited;
	f->max_uris = q->max_uris;
	/* Under an allow entry's own max_uris a partner is watched while it
	 * is over that limit, so raising the limit lifts it. */
	f->watched = policy_watch_holds(watched, q->discovered,
	    q->uris_limited, 1, r->nuris, q->max_uris);
	f->distinct_uris = r->nuris;
	f->uri_new = 0;
	if (q->uris_limited && !f->watched) {
		uri_entry(st, q->uri, now_ms, ent);
		if ((rc = uri_has(txn, &st->s, q->domain, ent, &has)) != 0)
			return rc;
		f->uri_new = !has;
	}
	f->suspicious = q->discovered && suspicious_now(st, r, now_ms);
	*rate = f->suspicious ? st->sp.suspicious_rate : q->rate;
	f->rate_limited = *rate > 0;
	/* Suspicion began or ended: the bucket changes rate now, not at
	 * the next request it accepts. */
	(void)staterec_bucket_rate(r, now_ms, *rate, *rate);
	f->token = staterec_bucket_peek(r, now_ms, *rate, *rate);
	return 0;
}

/* A new URI counted: the one that crosses max_uris too (what the partner
 * tried), though refused.  0 or an LMDB error. */
static int
uri_count(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, const struct policy_facts *f, int watched,
    const unsigned char ent[URI_ENTRY], struct staterec *r,
    struct policy_decision *d)
{
	MDB_val k = val_of(q->domain, strlen(q->domain));
	MDB_val v = val_of(ent, URI_ENTRY);
	int rc;

	if (r->nuris >= STATE_URIS_MAX) {
		/* Above any sane max_uris: what cannot be counted cannot be
		 * let in. */
		d->verdict = VERDICT_REFUSE;
		d->reason = REASON_WATCH;
		d->code = f->is_ack ? -1 : 403;
		d->watch_now = !watched;
		return 0;
	}
	if ((rc = mdb_put(txn, st->s.uris, &k, &v, 0)) != 0)
		return rc;
	if (r->nuris++ == 0 || now_ms < r->uri_oldest_ms)
		r->uri_oldest_ms = now_ms;
	return 0;
}

/* The partner watched from now: marked, and durably so.  0 or an LMDB
 * error. */
static int
watch_mark(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct staterec *r)
{
	MDB_val k;
	int rc;

	r->watch_ms = now_ms;
	if (!q->discovered)
		return 0;
	/* Nothing more is kept for a watched partner: the watch list holds
	 * the fact, the mark bridges the second until every process has
	 * re-read it. */
	k = val_of(q->domain, strlen(q->domain));
	if ((rc = mdb_del(txn, st->s.uris, &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return rc;
	/* nuris stays: the count it was watched at, shown by `fedlist
	 * watch ls`. */
	r->uri_oldest_ms = 0;
	return 0;
}

/*
 * fedgate's decision on one request, in the transaction txn: the facts
 * from the partner's record (made if new), policy_decide, then the record
 * as the decision leaves it.  *changed if written, *durable if it must
 * reach the disk now.  0 or an LMDB error.  Called once a request: its
 * steps are static and called once, for gcc to inline.
 */
static int
decide_in(struct state *st, MDB_txn *txn, const struct state_req *q,
    int64_t now_ms, struct policy_facts *f, struct policy_decision *d,
    int *changed, int *durable)
{
	struct staterec r, before;
	struct staterec_peer pe[STATEREC_PEERS];
	unsigned char ent[URI_ENTRY];
	unsigned npe = 0, rate;
	int rc, fresh = 0, watched;

	if ((rc = rec_get(txn, &st->s, q->domain, &r, pe, &npe)) ==
	    MDB_NOTFOUND) {
		if ((rc = new_partner(st, txn, q, now_ms, f, d, changed,
		    &fresh)) != 0 || !fresh)
			return rc;
		staterec_init(&r);
	} else if (rc != 0)
		return rc;
	before = r;
	if ((rc = rec_age(st, txn, q, now_ms, &r)) != 0)
		return rc;
	watched = q->watched || r.watch_ms != 0;
	if ((rc = known_facts(st, txn, q, now_ms, watched, &r, ent, &rate,
	    f)) != 0)
		return rc;
	*d = policy_decide(f);

	if (f->uris_limited && f->uri_new &&
	    (d->reason != REASON_WATCH || d->watch_now) &&
	    (rc = uri_count(st, txn, q, now_ms, f, watched, ent, &r, d)) != 0)
		return rc;
	if (d->watch_now) {
		*durable = 1;
		if ((rc = watch_mark(st, txn, q, now_ms, &r)) != 0)
			return rc;
	}
	if (d->verdict == VERDICT_ACCEPT && f->rate_limited)
		staterec_bucket_take(&r, now_ms, rate, rate);
	if (f->suspicious != (r.suspicious_ms != 0)) {
		r.suspicious_ms = f->suspicious ? now_ms : 0;
		*durable = 1;
	}
	if (q->peer != NULL && staterec_peer_note(pe, &npe, q->peer, now_ms))
		fresh = 1;
	if (fresh || r.last_ms / 1000 != now_ms / 1000)
		r.last_ms = now_ms;
	if (!fresh && memcmp(&r, &before, sizeof r) == 0)
		return 0;
	*changed = 1;
	if ((rc = index_update(txn, &st->s, q->domain, &before, &r)) != 0)
		return rc;
	return rec_put(txn, &st->s, q->domain, &r, pe, npe);
}

static int
commit(struct state *st, MDB_txn *txn, int changed, int durable,
    struct fed_err *err)
{
	int rc;

	if (!changed) {
		mdb_txn_abort(txn);
		return 0;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return lmdb_fail(err, "commit", rc);
	st->dirty = 1;
	if (durable && !st->dry_run) {
		if ((rc = mdb_env_sync(st->s.env, 1)) != 0)
			return lmdb_fail(err, "flush", rc);
		st->dirty = 0;
	}
	return 0;
}

/* The transaction a decision runs in: its own, or the batch's. */
static int
txn_get(struct state *st, MDB_txn **txn)
{
	int rc;

	if (!st->batching)
		return mdb_txn_begin(st->s.env, NULL, 0, txn);
	if (st->btxn == NULL &&
	    (rc = mdb_txn_begin(st->s.env, NULL, 0, &st->btxn)) != 0)
		return rc;
	*txn = st->btxn;
	return 0;
}

static int
txn_done(struct state *st, MDB_txn *txn, int changed, int durable,
    struct fed_err *err)
{
	if (!st->batching)
		return commit(st, txn, changed, durable, err);
	st->bchanged |= changed;
	st->bdurable |= durable;
	if (++st->bcount >= STATE_BATCH_MAX)
		return batch_commit(st, err);
	return 0;
}

/* After an error the transaction is unusable: a batch loses the
 * decisions it held (their log lines are not yet written). */
static void
txn_fail(struct state *st, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	if (st->batching && txn == st->btxn) {
		if (st->bcount > 0)
			st->blost = 1;
		st->btxn = NULL;
		st->bcount = 0;
		st->bchanged = st->bdurable = 0;
	}
}

static int
batch_commit(struct state *st, struct fed_err *err)
{
	MDB_txn *txn = st->btxn;
	int changed = st->bchanged, durable = st->bdurable;

	if (st->blost) {
		/* The caller must not report or act on those decisions; it
		 * stops, and every later commit says so again. */
		fed_err_set(err, "partner state: an error in the store undid "
		    "the decisions of this read; they are not acted on");
		return -1;
	}
	if (txn == NULL)
		return 0;
	st->btxn = NULL;
	st->bcount = 0;
	st->bchanged = st->bdurable = 0;
	return commit(st, txn, changed, durable, err);
}

int
state_batch_commit(struct state *st, struct fed_err *err)
{
	return batch_commit(st, err);
}

int
state_batch(struct state *st, int on, struct fed_err *err)
{
	int rc = batch_commit(st, err);

	st->batching = on;
	return rc;
}

/*
 * The pool's decision: 0 if it decided (or a 503 stands for it while it
 * is down and this host must not decide alone), 1 for the local store
 * to decide, -1 with err said.
 */
static int
pool_decision(struct state *st, const struct state_req *q, int64_t now_ms,
    struct policy_facts *f, struct policy_decision *d, struct fed_err *err)
{
	int rc, wn, cap;

	/* A dry run decides on its private store, the partner pulled from
	 * the pool (dry_pull_pool); POOL_DOWN if not. */
	rc = st->dry_run ? (pooled(st, now_ms) ? 2 : POOL_DOWN) :
	    pool_decide(st->pool, q, now_ms, f, &wn, &cap, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		st->pooled = 1;
		*d = policy_decide(f);
		if (cap) {
			d->verdict = VERDICT_REFUSE;
			d->reason = REASON_WATCH;
			d->code = f->is_ack ? -1 : 403;
		} else if (d->watch_now != wn) {
			fed_err_set(err, "pool: %s: the script and "
			    "policy_decide disagree on a watch", q->domain);
			return -1;
		}
		d->watch_now = wn;
		return 0;
	}
	if (rc == POOL_DOWN && (st->sp.redis_refuse || st->s.env == NULL)) {
		/* Never open silently (fedkit(7) POOL). */
		d->verdict = VERDICT_LIMIT;
		d->reason = REASON_POOL_DOWN;
		d->code = f->is_ack ? -1 : 503;
		d->watch_now = 0;
		return 0;
	}
	return 1;
}

int
state_decide(struct state *st, const struct state_req *q, int64_t now_ms,
    struct policy_facts *f, struct policy_decision *d, struct fed_err *err)
{
	MDB_txn *txn;
	int rc, changed = 0, durable = 0;

	if (strlen(q->domain) > DOMAIN_MAX) {
		fed_err_set(err, "partner state: a domain longer than %d "
		    "octets", DOMAIN_MAX);
		return -1;
	}
	st->pooled = 0;
	if (st->pool != NULL &&
	    (rc = pool_decision(st, q, now_ms, f, d, err)) <= 0)
		return rc;
	if ((rc = txn_get(st, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	if (st->dry_run && st->pool != NULL && pooled(st, now_ms)) {
		if ((rc = dry_pull_pool(st, txn, q, now_ms, err)) != 0) {
			txn_fail(st, txn);
			return -1;
		}
	} else if (st->dry_run && (rc = dry_pull(st, txn, q->domain, q)) != 0) {
		txn_fail(st, txn);
		return lmdb_fail(err, "dry run: read", rc);
	}
	if ((rc = decide_in(st, txn, q, now_ms, f, d, &changed,
	    &durable)) == MDB_MAP_FULL) {
		/* The store is full (STATE_MAP_BYTES): what cannot be
		 * counted is not let in, and the process goes on; the sweep
		 * makes room as partners go idle. */
		txn_fail(st, txn);
		f->new_refused = 1;
		*d = policy_decide(f);
		return 0;
	}
	if (rc != 0) {
		txn_fail(st, txn);
		return lmdb_fail(err, q->domain, rc);
	}
	return txn_done(st, txn, changed, durable, err);
}

int
state_response(struct state *st, const char *domain, int64_t now_ms,
    int success, struct fed_err *err)
{
	struct staterec r, before;
	struct staterec_peer pe[STATEREC_PEERS];
	unsigned npe;
	MDB_txn *txn;
	int rc, was, durable = 0;

	if (strlen(domain) > DOMAIN_MAX)
		return 0;
	/* The pool's counts go in batches, at most a second late. */
	if (!st->dry_run && pooled(st, now_ms) &&
	    pool_response(st->pool, domain, now_ms, success) == 0)
		return 0;
	if ((rc = txn_get(st, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	if (st->dry_run && (rc = dry_pull(st, txn, domain, NULL)) != 0)
		goto fail;
	if ((rc = rec_get(txn, &st->s, domain, &r, pe, &npe)) == MDB_NOTFOUND)
		return txn_done(st, txn, 0, 0, err);	/* never creates one */
	if (rc != 0)
		goto fail;
	before = r;
	was = r.suspicious_ms != 0;
	staterec_response_add(&r, now_ms, st->sp.report_period, success);
	if (suspicious_now(st, &r, now_ms) != was) {
		r.suspicious_ms = was ? 0 : now_ms;
		durable = 1;
	}
	r.last_ms = now_ms;
	if ((rc = index_update(txn, &st->s, domain, &before, &r)) != 0)
		goto fail;
	if ((rc = rec_put(txn, &st->s, domain, &r, pe, npe)) != 0)
		goto fail;
	return txn_done(st, txn, 1, durable, err);
fail:
	txn_fail(st, txn);
	return lmdb_fail(err, domain, rc);
}

int
state_clear(struct state *st, const char *domain, int64_t now_ms,
    struct fed_err *err)
{
	struct staterec r;
	struct staterec_peer pe[STATEREC_PEERS];
	unsigned npe;
	MDB_txn *txn;
	int rc;

	int pool_had = 0;

	if (strlen(domain) > DOMAIN_MAX)
		return 0;
	if (st->pool != NULL) {
		/* The pool's, and what this host kept while it was down. */
		if ((pool_had = pool_clear(st->pool, domain, now_ms)) ==
		    POOL_DOWN)
			return pool_down_err(st, err);
		pool_had = pool_had != 0;
	}
	if (st->s.env == NULL)	/* pool_only */
		return pool_had;
	if (batch_commit(st, err) != 0)
		return -1;
	if ((rc = mdb_txn_begin(st->s.env, NULL, 0, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	if ((rc = rec_get(txn, &st->s, domain, &r, pe, &npe)) == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return pool_had;
	}
	if (rc != 0 || (rc = partner_del(txn, &st->s, domain, &r)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(err, domain, rc);
	}
	if (commit(st, txn, 1, 1, err) != 0)
		return -1;
	return 1;
}

/* ---- listing ---- */

static int
view_fill(const struct state *st, struct state_view *vw, const MDB_val *v,
    int64_t now_ms)
{
	if (staterec_decode(v->mv_data, v->mv_size, &vw->rec, vw->peer,
	    &vw->npeer) != 0)
		return -1;
	staterec_responses(&vw->rec, now_ms, st->sp.report_period, &vw->ok,
	    &vw->fail);
	vw->watch_kept = 0;
	return 0;
}

static const struct store *
read_store(const struct state *st)
{
	return st->dry_run && st->has_real ? &st->real : &st->s;
}

int
state_walk(struct state *st, int64_t now_ms,
    int (*fn)(const struct state_view *, void *), void *arg,
    struct fed_err *err)
{
	const struct store *s = read_store(st);
	char dom[DOMAIN_MAX + 1];
	struct state_view vw;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (st->pool != NULL) {
		if ((rc = pool_walk(st->pool, now_ms, fn, arg, err)) ==
		    POOL_DOWN)
			return pool_down_err(st, err);
		return rc;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	if ((rc = mdb_cursor_open(txn, s->partners, &c)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(err, "walk", rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size > DOMAIN_MAX)
			continue;
		memcpy(dom, k.mv_data, k.mv_size);
		dom[k.mv_size] = '\0';
		vw.domain = dom;
		if (view_fill(st, &vw, &v, now_ms) != 0)
			continue;	/* unreadable: skipped, not listed */
		if (fn(&vw, arg) != 0)
			break;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_fail(err, "walk", rc);
	return 0;
}

int
state_view(struct state *st, const char *domain, int64_t now_ms,
    struct state_view *vw, char *dombuf, struct fed_err *err)
{
	const struct store *s = read_store(st);
	MDB_txn *txn;
	MDB_val k = val_of(domain, strlen(domain)), v;
	int rc, found = 0;

	if (strlen(domain) > DOMAIN_MAX)
		return 0;
	if (st->pool != NULL) {
		if ((rc = pool_view(st->pool, domain, now_ms, vw, dombuf,
		    err)) == -POOL_DOWN)
			return pool_down_err(st, err);
		return rc;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	if ((rc = mdb_get(txn, s->partners, &k, &v)) == 0 &&
	    view_fill(st, vw, &v, now_ms) == 0) {
		snprintf(dombuf, DOMAIN_MAX + 1, "%s", domain);
		vw->domain = dombuf;
		found = 1;
	}
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_fail(err, domain, rc);
	return found;
}

/* ---- upkeep ---- */

/* Remove up to `max` entries idle since before cutoff from one table. */
static int
sweep_idle(struct state *st, MDB_txn *txn, MDB_dbi idx, int64_t cutoff_ms,
    unsigned *left)
{
	unsigned char cut[8];
	char name[IDLE_KEY_MAX];
	int partners = idx != st->s.peeridle;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	idle_key(cut, cutoff_ms, "");
	if ((rc = mdb_cursor_open(txn, idx, &c)) != 0)
		return rc;
	while (*left > 0 && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size < 8 || memcmp(k.mv_data, cut, 8) >= 0)
			break;
		memcpy(name, (const char *)k.mv_data + 8, k.mv_size - 8);
		name[k.mv_size - 8] = '\0';
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		k = val_of(name, strlen(name));
		if (partners) {
			if ((rc = mdb_del(txn, st->s.partners, &k, NULL)) != 0 &&
			    rc != MDB_NOTFOUND)
				break;
			if ((rc = mdb_del(txn, st->s.uris, &k, NULL)) != 0 &&
			    rc != MDB_NOTFOUND)
				break;
		} else if ((rc = mdb_del(txn, st->s.peers, &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			break;
		rc = 0;
		(*left)--;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
state_tick(struct state *st, int64_t now_ms, struct fed_err *err)
{
	int64_t cutoff = now_ms - (int64_t)st->sp.report_period * 1000;
	unsigned left = SWEEP_MAX;
	MDB_txn *txn;
	MDB_val k, v;
	MDB_cursor *c;
	unsigned char cut[8];
	MDB_dbi idx[3];
	int rc, due = 0, i;

	idx[0] = st->s.idle;
	idx[1] = st->s.held;
	idx[2] = st->s.peeridle;
	if (now_ms - st->tick_ms < 1000 && now_ms >= st->tick_ms)
		return 0;
	st->tick_ms = now_ms;
	if (st->pool != NULL)
		(void)pool_tick(st->pool, now_ms, 0);	/* down: said */
	if (batch_commit(st, err) != 0)	/* one write transaction at a time */
		return -1;
	if (st->dry_run)
		return 0;
	/* Look before taking the write lock: most ticks find nothing. */
	if ((rc = mdb_txn_begin(st->s.env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	idle_key(cut, cutoff, "");
	for (i = 0; i < 3 && !due; i++) {
		if (mdb_cursor_open(txn, idx[i], &c) != 0)
			continue;
		if (mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0 &&
		    k.mv_size >= 8 && memcmp(k.mv_data, cut, 8) < 0)
			due = 1;
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	if (due) {
		if ((rc = mdb_txn_begin(st->s.env, NULL, 0, &txn)) != 0)
			return lmdb_fail(err, "begin", rc);
		for (i = 0, rc = 0; i < 3 && rc == 0; i++)
			rc = sweep_idle(st, txn, idx[i], cutoff, &left);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return lmdb_fail(err, "sweep", rc);
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			return lmdb_fail(err, "sweep", rc);
		st->dirty = 1;
	}
	if (st->dirty) {
		if ((rc = mdb_env_sync(st->s.env, 1)) != 0)
			return lmdb_fail(err, "flush", rc);
		st->dirty = 0;
	}
	return 0;
}

int
state_count(struct state *st, unsigned long *partners, unsigned long *peers,
    unsigned long *uris, struct fed_err *err)
{
	const struct store *s = read_store(st);
	MDB_txn *txn;
	MDB_stat ms;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(err, "begin", rc);
	*partners = mdb_stat(txn, s->partners, &ms) == 0 ? ms.ms_entries : 0;
	*peers = mdb_stat(txn, s->peers, &ms) == 0 ? ms.ms_entries : 0;
	*uris = mdb_stat(txn, s->uris, &ms) == 0 ? ms.ms_entries : 0;
	mdb_txn_abort(txn);
	return 0;
}
