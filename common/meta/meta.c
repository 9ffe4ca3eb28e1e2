/*
 * meta.c - the second half of metad's engine: open the cluster for
 * writing, group-commit the transactions apply.c applied (pages, sync,
 * one commit record), and keep house between batches (segment leases of
 * silent clients, their orphans, drained metadata segments).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "format.h"
#include "meta_int.h"
#include "txn.h"
#include "util.h"

/* Inode numbers are recorded this many ahead: a create then seldom
 * changes the SUPER leaf (numbers a restart skips are never missed). */
#define INO_AHEAD 4096

static int write_counters(struct ag_meta *m)
{
	uint8_t k[AG_KEYBUF], v[AG_STATS_REC_LEN];
	int rc;

	if (m->next_ino > m->stored_ino) {
		put_le64(v, m->next_ino + INO_AHEAD);
		rc = ag_tree_put(m->tree, k, ag_key_super(k, "next_ino"), v,
				 8);
		if (rc)
			return rc;
		m->stored_ino = m->next_ino + INO_AHEAD;
	}
	/* the epoch of every page this commit writes is at most this */
	if (m->space.epoch != m->stored_epoch) {
		put_le64(v, m->space.epoch);
		rc = ag_tree_put(m->tree, k, ag_key_super(k, "page_epoch"), v,
				 8);
		if (rc)
			return rc;
		m->stored_epoch = m->space.epoch;
	}
	ag_stats_rec_encode(v, &m->stats);
	return ag_tree_put(m->tree, k, ag_key_stats(k), v, sizeof(v));
}

static int read_counters(struct ag_meta *m)
{
	uint8_t k[AG_KEYBUF], v[AG_STATS_REC_LEN];
	size_t vl = 8;
	int rc;

	rc = ag_tree_get(m->tree, k, ag_key_super(k, "next_ino"), v, &vl);
	if (rc)
		return rc;
	if (vl != 8)
		return AG_CORRUPT("next_ino record");
	m->next_ino = m->stored_ino = get_le64(v);
	/* start an epoch no page on the drives has (the stored one may be
	 * in client caches) */
	vl = 8;
	rc = ag_tree_get(m->tree, k, ag_key_super(k, "page_epoch"), v, &vl);
	if (rc && rc != -ENOENT)
		return rc;
	m->space.epoch = (rc ? 0 : get_le64(v) % AG_MAX_PAGE_SLOTS) + 1;
	m->stored_epoch = 0; /* the new epoch goes with the next commit */
	vl = sizeof(v);
	rc = ag_tree_get(m->tree, k, ag_key_stats(k), v, &vl);
	if (rc)
		return rc;
	return ag_stats_rec_decode(v, vl, &m->stats);
}

/* Metadata segments are written and synced at every commit: make sure
 * no write there allocates (see ag_drives_fill_holes), bytes [from, to)
 * of seg on every drive at a time (the allocator asks for more as it
 * reaches the end of what is filled: space.h). */
static void fill_meta(void *arg, uint32_t seg, uint64_t from, uint64_t to)
{
	struct ag_meta *m = arg;

	ag_drives_fill_holes(m->ds,
			     ag_slot_offset(&m->ds->label, seg, 0, 0) + from,
			     to - from);
}

/* The first step of a segment about to take pages. Runs in the syncer
 * for the spare, which the allocator touches only after spare_wait. */
static void prepare_meta_segment(struct ag_meta *m, uint32_t seg)
{
	uint64_t to = AG_MIN((uint64_t)AG_META_FILL_STEP,
			     m->ds->label.segment_size);

	if (m->space.filled[seg] >= to)
		return;
	fill_meta(m, seg, 0, to);
	m->space.filled[seg] = to;
}

static void space_hooks(struct ag_meta *m);

/* The spare metadata segment is prepared by the syncer, in the background:
 * the page allocator takes it only once that is done (spare_wait). */
static void prepare_spare(struct ag_meta *m, uint32_t seg)
{
	if (!m->syncer_running) {
		prepare_meta_segment(m, seg);
		m->space.spare_ready = 1;
		return;
	}
	pthread_mutex_lock(&m->sync_lock);
	m->fill_want = seg;
	m->space.spare_ready = 0;
	pthread_cond_broadcast(&m->sync_cond);
	pthread_mutex_unlock(&m->sync_lock);
}

static void spare_wait(void *arg)
{
	struct ag_meta *m = arg;

	pthread_mutex_lock(&m->sync_lock);
	while (m->fill_done != m->space.spare_meta && m->syncer_running)
		pthread_cond_wait(&m->sync_cond, &m->sync_lock);
	pthread_mutex_unlock(&m->sync_lock);
	m->space.spare_ready = 1;
}

static void space_hooks(struct ag_meta *m)
{
	m->space.spare_wait = spare_wait;
	m->space.spare_wait_arg = m;
	m->space.fill_holes = fill_meta;
	m->space.fill_holes_arg = m;
}

/* Keep a spare metadata segment recorded, so that page allocation during
 * a flush never needs to change the tree. */
static int ensure_meta_segments(struct ag_meta *m)
{
	struct ag_space *sp = &m->space;
	struct tx tx = { .m = m };
	struct ag_seg_rec r = { .state = AG_SEG_META };
	int rc = 0;

	/* a start goes on in the metadata segments it finds, while they
	 * have room, instead of taking a free one each time */
	if (sp->cur_meta == AG_SEG_NONE) {
		uint32_t roomy = ag_space_roomy_meta(sp);

		if (roomy != AG_SEG_NONE) {
			prepare_meta_segment(m, roomy);
			ag_space_use_meta(sp, roomy);
		}
	}
	while (!rc && (sp->spare_meta == AG_SEG_NONE ||
		       sp->cur_meta == AG_SEG_NONE)) {
		uint32_t seg;

		rc = ag_space_find_free(sp, &seg);
		if (rc)
			break;
		rc = ag_tx_seg_put(&tx, seg, &r);
		if (rc)
			break;
		if (sp->cur_meta == AG_SEG_NONE) {
			prepare_meta_segment(m, seg);
			ag_space_use_meta(sp, seg);
		} else {
			sp->spare_meta = seg;
			prepare_spare(m, seg);
		}
	}
	ag_tx_free(&tx);
	return rc;
}

/* Sync every drive: what was written before is durable once it returns
 * 0 (min(3, present) drives synced). */
static int sync_drives(struct ag_meta *m, uint64_t gen)
{
	int rc, rcs[AG_MAX_DRIVES];

	rc = ag_drives_sync(m->ds, rcs);
	if (!rc && !ag_drives_quorum(m->ds, rcs))
		rc = -AG_ENOQUORUM;
	if (rc)
		AG_ERR("sync of generation %llu failed: %s",
		       (unsigned long long)gen, ag_strerror(rc));
	return rc;
}

/* Take what the syncer made durable. */
static void harvest(struct ag_meta *m)
{
	pthread_mutex_lock(&m->sync_lock);
	if (m->sync_done > m->synced_gen)
		m->synced_gen = AG_MIN(m->sync_done, m->rec.gen);
	pthread_mutex_unlock(&m->sync_lock);
}

uint64_t ag_meta_synced_gen(struct ag_meta *m)
{
	harvest(m);
	return m->synced_gen;
}

/* Make every commit so far durable. */
static int sync_all(struct ag_meta *m)
{
	uint64_t gen = m->rec.gen;
	int rc;

	harvest(m);
	if (m->synced_gen == gen)
		return 0;
	rc = sync_drives(m, gen);
	if (!rc)
		m->synced_gen = gen;
	return rc;
}

static void *syncer_main(void *arg)
{
	struct ag_meta *m = arg;

	pthread_mutex_lock(&m->sync_lock);
	while (!m->syncer_stop) {
		uint64_t gen = m->sync_want;
		uint32_t seg = m->fill_want;

		if (seg != AG_SEG_NONE) {
			pthread_mutex_unlock(&m->sync_lock);
			prepare_meta_segment(m, seg);
			pthread_mutex_lock(&m->sync_lock);
			if (m->fill_want == seg)
				m->fill_want = AG_SEG_NONE;
			m->fill_done = seg;
			pthread_cond_broadcast(&m->sync_cond);
			continue;
		}
		if (gen <= m->sync_done) {
			pthread_cond_wait(&m->sync_cond, &m->sync_lock);
			continue;
		}
		m->syncer_busy = 1;
		pthread_mutex_unlock(&m->sync_lock);
		if (sync_drives(m, gen)) {
			/* the loop's own syncs report it; try again later */
			pthread_mutex_lock(&m->sync_lock);
			m->sync_want = m->sync_done;
		} else {
			pthread_mutex_lock(&m->sync_lock);
			m->sync_done = gen;
		}
		m->syncer_busy = 0;
		pthread_cond_broadcast(&m->sync_cond);
	}
	pthread_mutex_unlock(&m->sync_lock);
	return NULL;
}

/* Have the syncer make generation gen durable, in the background. */
static void sync_soon(struct ag_meta *m, uint64_t gen)
{
	if (!m->syncer_running) {
		sync_all(m);
		return;
	}
	pthread_mutex_lock(&m->sync_lock);
	if (gen > m->sync_want) {
		m->sync_want = gen;
		pthread_cond_broadcast(&m->sync_cond);
	}
	pthread_mutex_unlock(&m->sync_lock);
}

/* Wait for the syncer to finish what it is doing. */
static void sync_wait(struct ag_meta *m)
{
	pthread_mutex_lock(&m->sync_lock);
	while (m->syncer_busy)
		pthread_cond_wait(&m->sync_cond, &m->sync_lock);
	pthread_mutex_unlock(&m->sync_lock);
	harvest(m);
}

/* Epochs no record or page on the drives has: commits newer than the one
 * reloaded were rolled back, and their records and pages may still be on
 * drives ours will not overwrite (another lane, a drive that failed).
 * That needs every ring: at the start (had_epoch 0), a metad that cannot
 * read one must not serve, or its records could lose to those it rolls
 * back. On a reload after a failed commit, the epochs this metad held
 * (had_epoch, had_page_epoch) are past every record and page but its
 * own, as it read every ring when it started and no other metad ran
 * since: one past them will do. */
static int fresh_epochs(struct ag_meta *m, uint32_t had_epoch,
			uint32_t had_page_epoch)
{
	uint32_t epoch, page_epoch;
	int rc;

	rc = ag_commit_ring_scan(m->ds, &m->rec, &epoch, &page_epoch);
	if (rc && !had_epoch) {
		AG_ERR("cannot scan the commit rings for the epochs in use: "
		       "%s; not serving the cluster on a partial view",
		       ag_strerror(rc));
		return rc;
	}
	if (rc) {
		AG_WARN("cannot scan the commit rings for the epochs in use: "
			"%s; going on past this metad's own",
			ag_strerror(rc));
		epoch = had_epoch;
		page_epoch = had_page_epoch;
	}
	m->rec.epoch = AG_MAX(AG_MAX(m->rec.epoch, epoch) + 1, m->lease_epoch);
	if (page_epoch && !ag_page_epoch_ahead(m->space.epoch, page_epoch))
		m->space.epoch = page_epoch % AG_MAX_PAGE_SLOTS + 1;
	return 0;
}

static int (*data_check)(struct ag_drives *ds, const struct ag_commit_rec *r);

void ag_meta_set_data_check(int (*check)(struct ag_drives *ds,
					 const struct ag_commit_rec *r))
{
	data_check = check;
}

/* ag_commit_pick's check (arg: m): the pages a record lists, then its
 * data. */
static int check_commit(void *arg, const struct ag_commit_rec *r)
{
	struct ag_meta *m = arg;
	int rc = ag_pagestore_check_commit(m->ps, r);

	return rc > 0 && r->ndata && data_check ? data_check(m->ds, r) : rc;
}

static int note_chunks(void *arg, const struct ag_op *op)
{
	struct ag_meta *m = arg;
	struct ag_write_ext e;
	uint32_t i;

	if (op->type != AG_OP_WRITE)
		return 0;
	for (i = 0; i < op->u.write.next; i++) {
		ag_write_ext_get(&op->u.write, i, &e);
		if (!e.has_loc)
			continue;
		if (m->nunsynced == AG_COMMIT_DATA_MAX) {
			m->too_many = 1;
			return 1;
		}
		m->unsynced[m->nunsynced].addr = e.addr;
		m->unsynced[m->nunsynced].len = e.clen;
		m->unsynced[m->nunsynced++].crc = e.crc;
	}
	return 0;
}

void ag_meta_note_unsynced(struct ag_meta *m, const uint8_t *txn, size_t len)
{
	uint64_t client, txid;

	if (!m->too_many &&
	    ag_txn_decode(txn, len, &client, &txid, note_chunks, m) < 0)
		m->too_many = 1; /* it was applied: it cannot be malformed */
}

/* The newest whole commit into m->rec; a damaged newer one stops us
 * unless the operator accepted to lose it (commit.h has the rule). */
static int pick_commit(struct ag_meta *m)
{
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	uint64_t lost;
	int rc;

	if (!scan)
		return -ENOMEM;
	rc = ag_commit_pick(m->ds, &m->rec, scan, check_commit, m);
	lost = scan->lost_gen;
	if (rc) {
		AG_ERR("no valid commit record on the drives: %s",
		       ag_strerror(rc));
	} else if (lost && !m->accept_rollback) {
		AG_ERR("generation %llu is damaged on every copy of its %s; "
		       "the newest whole commit is generation %llu. Serving "
		       "it would lose generation%s %llu%s%.0llu and every "
		       "change acknowledged there (see 'agora fsck'); to do "
		       "that anyway, start agora-metad with --accept-rollback",
		       (unsigned long long)scan->damaged_gen,
		       scan->lost_pages ? "pages" : "record",
		       (unsigned long long)m->rec.gen,
		       lost > m->rec.gen + 1 ? "s" : "",
		       (unsigned long long)m->rec.gen + 1,
		       lost > m->rec.gen + 1 ? " to " : "",
		       /* precision 0 prints nothing for 0 */
		       lost > m->rec.gen + 1 ? (unsigned long long)lost : 0);
		rc = -AG_ELOST;
	} else if (lost) {
		AG_WARN("--accept-rollback: serving generation %llu, losing "
			"generation%s %llu%s%.0llu (generation %llu is damaged "
			"on every copy)", (unsigned long long)m->rec.gen,
			lost > m->rec.gen + 1 ? "s" : "",
			(unsigned long long)m->rec.gen + 1,
			lost > m->rec.gen + 1 ? " to " : "",
			lost > m->rec.gen + 1 ? (unsigned long long)lost : 0,
			(unsigned long long)scan->damaged_gen);
		m->lost_gen = AG_MAX(m->lost_gen, lost);
	}
	free(scan);
	return rc;
}

/* After an accepted rollback: the damaged record copies are garbage that
 * the commit past them made harmless; wipe them, so that fsck and the
 * next start find nothing to report. */
static void wipe_damaged(struct ag_meta *m)
{
	struct ag_commit_scan *scan = malloc(sizeof(*scan));
	struct ag_commit_rec rec;
	int i;

	if (!scan)
		return;
	if (!ag_commit_pick(m->ds, &rec, scan, check_commit, m) &&
	    rec.gen == m->rec.gen) {
		for (i = 0; i < AG_MIN(scan->nbad, AG_COMMIT_BAD_MAX); i++)
			if (ag_commit_wipe(m->ds, scan->bad[i].drive,
					   scan->bad[i].slot))
				AG_WARN("cannot wipe the damaged commit record "
					"in slot %u of drive %d",
					scan->bad[i].slot, scan->bad[i].drive);
	}
	free(scan);
}

/* A crash can cut a commit short after its record and one copy of each
 * of its pages landed, before the other copies did: the commit stands
 * (commit.h), so give its pages their missing copies back from the ones
 * that landed. Only the newest commit can be cut so: metad starts a
 * commit once the one before is written. Synced by the caller. */
static void heal_commit(struct ag_meta *m)
{
	uint32_t i;
	int n, healed = 0;

	for (i = 0; i < m->rec.npages; i++) {
		n = ag_page_repair(m->ps, m->rec.pages[i], m->rec.gen);
		if (n > 0)
			healed += n;
	}
	if (healed)
		AG_WARN("commit %llu was cut short: %d copies of its pages "
			"written again", (unsigned long long)m->rec.gen,
			healed);
}

static int reload(struct ag_meta *m)
{
	/* what this metad wrote with so far (0: it is starting) */
	uint32_t had_epoch = m->rec.epoch, had_page_epoch = m->space.epoch;
	uint32_t s;
	int rc;

	ag_evlog_forget(m);
	ag_tree_close(m->tree);
	m->tree = NULL;
	ag_space_destroy(&m->space);
	rc = pick_commit(m);
	if (rc)
		return rc;
	heal_commit(m);
	/* the record found may be a lazy one: what we build on must be
	 * durable, or a power cut could leave our records without it */
	m->synced_gen = 0;
	rc = sync_all(m);
	if (rc)
		return rc;
	rc = ag_space_init(&m->space, &m->ds->label);
	if (rc)
		return rc;
	space_hooks(m);
	rc = ag_tree_open(&m->tree, &m->pager, m->rec.root);
	if (!rc)
		rc = ag_space_load(&m->space, m->tree);
	if (!rc)
		rc = read_counters(m);
	if (!rc)
		rc = fresh_epochs(m, had_epoch, had_page_epoch);
	if (!rc && m->lost_gen > m->rec.gen) {
		/* the next commit takes the generation after the lost one:
		 * no damaged record is then newer than the state (it was
		 * synced above) */
		m->rec.gen = m->lost_gen;
		m->synced_gen = m->rec.gen;
		/* and one more page epoch: the lost commit may have been the
		 * first of a metad that had taken the one we would take */
		m->space.epoch = m->space.epoch % AG_MAX_PAGE_SLOTS + 1;
	}
	for (s = 0; !rc && s < m->space.nseg; s++)
		if (m->space.state[s] == AG_SEG_META)
			prepare_meta_segment(m, s);
	m->pending = 0;
	return rc;
}

static int lock_cluster(struct ag_meta *m)
{
	int i;

	/* one metad per cluster. agora-metad holds the lease (lease.h),
	 * which works across hosts and fences; an in-process metad, which
	 * has none, locks the first present drive against another on this
	 * host */
	if (m->lease_epoch)
		return 0;
	for (i = 0; i < m->ds->n; i++) {
		if (m->ds->d[i].state != AG_DRIVE_OK)
			continue;
		m->lock_fd = open(m->ds->d[i].path, O_RDONLY | O_CLOEXEC);
		if (m->lock_fd < 0)
			return -errno;
		if (flock(m->lock_fd, LOCK_EX | LOCK_NB)) {
			AG_ERR("another agora-metad already serves this "
			       "cluster (%s is locked)", m->ds->d[i].path);
			return -EBUSY;
		}
		return 0;
	}
	return -AG_ENOQUORUM;
}

static int meta_new(const struct ag_config *cfg, uint32_t lease_epoch,
		    struct ag_meta **mp)
{
	struct ag_meta *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->sync_lock, NULL);
	pthread_cond_init(&m->sync_cond, NULL);
	m->fill_want = m->fill_done = AG_SEG_NONE;
	m->cfg = cfg;
	m->lock_fd = -1;
	m->lease_epoch = lease_epoch;
	m->started = ag_mono_ns();
	rc = ag_drives_open(cfg, &m->ds);
	if (!rc)
		rc = lock_cluster(m);
	if (!rc)
		rc = ag_pagestore_new(m->ds, cfg->page_cache, &m->ps);
	if (rc) {
		ag_meta_close(m);
		return rc;
	}
	ag_pagestore_pager(m->ps, &m->pager, ag_space_page_alloc,
			   ag_space_page_release, &m->space);
	ag_pagestore_defer(m->ps, 1);
	*mp = m;
	return 0;
}

int ag_meta_open(const struct ag_config *cfg, struct ag_meta **mp)
{
	return ag_meta_open_flags(cfg, 0, mp);
}

int ag_meta_open_flags(const struct ag_config *cfg, int flags,
		       struct ag_meta **mp)
{
	return ag_meta_open_leased(cfg, flags, 0, mp);
}

int ag_meta_open_leased(const struct ag_config *cfg, int flags,
			uint32_t lease_epoch, struct ag_meta **mp)
{
	struct ag_meta *m;
	int rc = meta_new(cfg, lease_epoch, &m);

	if (rc)
		return rc;
	m->accept_rollback = !!(flags & AG_META_ACCEPT_ROLLBACK);
	rc = reload(m);
	if (!rc) {
		/* a full cluster must still start, or nothing could ever be
		 * deleted: metadata then lives in free slots of its own
		 * segments until space comes back */
		if (ensure_meta_segments(m) == -ENOSPC)
			AG_WARN("no free segment for metadata: the cluster is "
				"full");
	}
	if (!rc && (m->lost_gen || lease_epoch)) {
		uint64_t gen, root;

		if (lease_epoch) {
			/* the fence (commit.h): the metad we take over from
			 * may have one commit under way, of the generation
			 * after the state and of its page epoch, and its
			 * host's death may have lost a lazy run, shorter
			 * than the ring: ours go past all of them */
			m->rec.gen += AG_COMMIT_SLOTS + 1;
			m->synced_gen = m->rec.gen;
			m->space.epoch = m->space.epoch % AG_MAX_PAGE_SLOTS + 1;
		}
		/* make the rollback, or the fence, the drives' state before
		 * anyone reads them: a durable commit of our epoch */
		m->pending = 1;
		rc = ag_meta_commit(m, 0, &gen, &root);
		if (!rc)
			wipe_damaged(m);
	}
	if (!rc) {
		int err = pthread_create(&m->syncer, NULL, syncer_main, m);

		/* without it lazy runs sync inline: correct, only slower */
		if (err)
			AG_WARN("cannot start the syncer (%s): lazy commits "
				"sync inline", ag_strerror(err));
		else
			m->syncer_running = 1;
	}
	if (rc) {
		ag_meta_close(m);
		return rc;
	}
	*mp = m;
	return 0;
}

int ag_meta_mkfs(const struct ag_config *cfg, int force)
{
	struct ag_label label;
	struct ag_meta *m = NULL;
	struct ag_attr root;
	uint64_t gen, rootaddr;
	uint8_t k[AG_KEYBUF], v[AG_INODE_LEN];
	int rc;

	rc = ag_drives_format(cfg, force, &label);
	if (rc)
		return rc;
	rc = meta_new(cfg, 0, &m);
	if (rc)
		return rc;
	memcpy(m->rec.uuid, m->ds->label.uuid, 16);
	m->rec.gen = 0;
	m->rec.epoch = 1;
	rc = ag_space_init(&m->space, &m->ds->label);
	if (!rc) {
		space_hooks(m);
		rc = ag_tree_open(&m->tree, &m->pager, 0);
	}
	if (rc)
		goto out;
	rc = ensure_meta_segments(m);
	if (rc)
		goto out;
	memset(&root, 0, sizeof(root));
	root.ino = AG_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	root.nlink = 2;
	root.atime = root.mtime = root.ctime = root.btime = ag_now_ns();
	root.parent = AG_ROOT_INO;
	rc = ag_tree_put(m->tree, k, ag_key_inode(k, AG_ROOT_INO), v,
			 ag_inode_encode(v, &root));
	if (rc)
		goto out;
	m->next_ino = AG_ROOT_INO + 1;
	m->stats.inodes = 1;
	m->pending = 1;
	rc = ag_meta_commit(m, 0, &gen, &rootaddr);
out:
	ag_meta_close(m);
	return rc;
}

int ag_meta_commit(struct ag_meta *m, int lazy, uint64_t *gen,
		   uint64_t *root)
{
	struct ag_commit_rec rec = m->rec;
	uint32_t drained[64], n, i;
	int rc, round;

	if (m->broken)
		return -EIO;
	if (!m->pending && !ag_tree_dirty(m->tree)) {
		rc = lazy ? 0 : sync_all(m);
		goto done;
	}
	rec.gen = m->rec.gen + 1;
	rec.time_ns = ag_now_ns();
	rec.page_epoch = m->space.epoch;
	/* the records of the unsynced run and the last synced one must all
	 * stay in the ring: the run ends with a durable commit before it
	 * would wrap onto the synced record's slot, unless the syncer has
	 * caught up meanwhile */
	harvest(m);
	if (lazy && !ag_commit_may_be_lazy(m->synced_gen, rec.gen))
		sync_wait(m);
	if (!ag_commit_may_be_lazy(m->synced_gen, rec.gen))
		lazy = 0;
	rec.lazy_since = m->synced_gen + 1;
	/* space freed by a commit a power cut could still undo is not
	 * reused: rounds only cover synced generations */
	round = ag_space_round_due(&m->space, m->synced_gen);
	ag_space_set_lane(&m->space, rec.gen);
	rc = write_counters(m);
	if (!rc)
		rc = ag_tree_flush(m->tree, rec.gen, &rec.root);
	/* data before the record that points at it: listed in the record,
	 * which stands only if it is on the drives, or synced first */
	rec.ndata = m->too_many ? 0 : m->nunsynced;
	memcpy(rec.data, m->unsynced, rec.ndata * sizeof(rec.data[0]));
	if (!rc && m->too_many)
		rc = sync_drives(m, rec.gen);
	/* pages first, then the record that makes them the cluster's state */
	if (!rc) {
		rc = ag_pagestore_commit(m->ps, &rec, lazy);
		if (rc == -E2BIG) { /* no room beside the pages */
			rec.ndata = 0;
			rc = sync_drives(m, rec.gen);
			if (!rc)
				rc = ag_pagestore_commit(m->ps, &rec, lazy);
		}
		if (rc == -EAGAIN) /* too big to be lazy */
			rc = ag_pagestore_commit(m->ps, &rec, lazy = 0);
	}
	m->nunsynced = 0;
	m->too_many = 0;
	if (rc) {
		ag_pagestore_discard(m->ps);
		AG_ERR("commit of generation %llu failed: %s; reloading",
		       (unsigned long long)rec.gen, ag_strerror(rc));
		ag_space_abort(&m->space);
		if (reload(m) == 0)
			ensure_meta_segments(m);
		else
			m->broken = 1;
		return rc;
	}
	if (!lazy)
		m->synced_gen = rec.gen;
	else if (m->synced_gen == m->rec.gen)
		m->unsynced_since = ag_mono_ns();
	/* halfway through the ring, the syncer starts on the run */
	if (lazy && rec.gen - m->synced_gen >= AG_COMMIT_SLOTS / 2)
		sync_soon(m, rec.gen);
	m->rec = rec;
	m->pending = 0;
	ag_space_committed(&m->space, rec.gen);
	n = round ? ag_space_round_done(&m->space, drained,
					AG_ARRAY_LEN(drained)) : 0;
	if (n) {
		struct tx tx = { .m = m };
		struct ag_seg_rec r = { .state = AG_SEG_FREE };

		r.free_gen = rec.gen + 1;
		for (i = 0; i < n; i++)
			if (ag_tx_seg_put(&tx, drained[i], &r))
				break;
		ag_tx_free(&tx);
	}
	rc = ensure_meta_segments(m);
	if (rc)
		AG_WARN("no free segment for metadata: %s", ag_strerror(rc));
	rc = 0;
done:
	*gen = m->rec.gen;
	*root = m->rec.root;
	return rc;
}

int ag_meta_reclaim(struct ag_meta *m)
{
	uint64_t gen, root;
	int i, rc;

	/* the first commit makes the generations that freed them synced,
	 * the second carries the round over them */
	for (i = 0; i < 2 && ag_space_segments_waiting(&m->space); i++) {
		m->pending = 1;
		ag_space_round_soon(&m->space);
		rc = ag_meta_commit(m, 0, &gen, &root);
		if (rc)
			return rc;
	}
	return 0;
}

uint32_t ag_meta_commit_pages(struct ag_meta *m, uint8_t *buf, uint32_t max,
			      int part)
{
	uint32_t i, n = AG_MIN(m->rec.npages, max);

	if (n < m->rec.npages && !part)
		return 0;
	for (i = 0; i < n; i++)
		if (ag_page_read(m->ps, m->rec.pages[i], buf +
				 (size_t)i * AG_PAGE_SIZE))
			return 0;
	return n;
}

int ag_meta_pending(const struct ag_meta *m)
{
	return m->pending;
}

uint64_t ag_meta_gen(const struct ag_meta *m)
{
	return m->rec.gen;
}

uint64_t ag_meta_root(const struct ag_meta *m)
{
	return m->rec.root;
}

void ag_meta_client_alive(struct ag_meta *m, uint64_t client)
{
	uint64_t now = ag_mono_ns();
	int i, oldest = 0;

	for (i = 0; i < m->nclients; i++) {
		if (m->clients[i].id == client) {
			m->clients[i].mono = now;
			return;
		}
		if (m->clients[i].mono < m->clients[oldest].mono)
			oldest = i;
	}
	if (m->nclients < MAX_CLIENTS)
		i = m->nclients++;
	else
		i = oldest;
	m->clients[i].id = client;
	m->clients[i].mono = now;
}

static uint64_t client_last_seen(const struct ag_meta *m, uint64_t client)
{
	int i;

	for (i = 0; i < m->nclients; i++)
		if (m->clients[i].id == client)
			return m->clients[i].mono;
	/* unknown since our start: give it the full timeout from then */
	return m->started;
}

/* Up to max records of type ktype (keys: type, id u64) whose client
 * has been silent for timeout; their ids go to out. The client is the
 * key's id for CLIENT, the value for ORPHAN. */
static int silent_records(struct ag_meta *m, uint8_t ktype, uint64_t now,
			  uint64_t timeout, uint64_t *out, int max)
{
	uint8_t k[1] = { ktype };
	struct ag_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	int n = 0;

	if (ag_tree_seek(m->tree, k, 1, &c))
		return 0;
	while (n < max && ag_cursor_next(c, &ck, &ckl, &cv, &cvl) == 1) {
		uint64_t id, client;

		if (ag_key_type(ck, ckl) != ktype)
			break;
		if (ktype == AG_K_CLIENT ? ag_key_client_decode(ck, ckl, &id)
					 : ag_key_orphan_decode(ck, ckl, &id))
			continue;
		if (ktype == AG_K_CLIENT)
			client = id;
		else if (cvl == 8)
			client = get_le64(cv);
		else
			continue;
		if (now - client_last_seen(m, client) >= timeout)
			out[n++] = id;
	}
	ag_cursor_free(c);
	return n;
}

/* Client let go of orphan ino: destroy it, or hand it to another
 * holder, in the open batch. 0, or -errno when it was no orphan. */
static int let_go_orphan(struct ag_meta *m, uint64_t client, uint64_t ino)
{
	struct tx tx = { .m = m, .client = client,
			 .now = (int64_t)ag_now_ns(), .stats = m->stats };
	int rc = ag_tx_drop_orphan(&tx, ino);

	if (!rc) {
		m->stats = tx.stats;
		m->pending++;
	} else {
		ag_tx_rollback(&tx);
	}
	ag_tx_free(&tx);
	return rc;
}

/* Orphans are files being written or unlinked while open; when their
 * client has gone silent, nobody can name or close them any more. */
static void reap_orphans(struct ag_meta *m, uint64_t now, uint64_t timeout)
{
	uint64_t dead[64];
	int n = silent_records(m, AG_K_ORPHAN, now, timeout, dead, 64), i;

	for (i = 0; i < n; i++)
		if (!let_go_orphan(m, 0, dead[i]))
			AG_INFO("orphan inode %llu of a silent client let go",
				(unsigned long long)dead[i]);
}

int ag_meta_hold(struct ag_meta *m, uint64_t client, uint64_t ino)
{
	uint8_t k[AG_KEYBUF], v[AG_VAL_MAX];
	size_t vl = sizeof(v);
	int rc = m->broken ? -EIO
			   : ag_tree_get(m->tree, k, ag_key_inode(k, ino), v,
					 &vl);

	return rc ? rc : ag_holds_add(&m->holds, client, ino);
}

int ag_meta_broken(const struct ag_meta *m)
{
	return m->broken;
}

void ag_meta_release(struct ag_meta *m, uint64_t client, uint64_t ino)
{
	uint8_t k[AG_KEYBUF], v[8];
	size_t vl = sizeof(v);

	ag_holds_del(&m->holds, client, ino);
	if (!ag_tree_get(m->tree, k, ag_key_orphan(k, ino), v, &vl))
		let_go_orphan(m, client, ino);
}

void ag_meta_holds_set(struct ag_meta *m, uint64_t client,
		       const uint8_t *inos, size_t n)
{
	uint64_t *had = NULL;
	size_t nhad = 0, i;

	if (ag_holds_take_client(&m->holds, client, &had, &nhad))
		nhad = 0; /* no memory: what it let go is dropped later */
	for (i = 0; i < n; i++)
		ag_meta_hold(m, client, get_le64(inos + 8 * i));
	/* a client lets go of a named file with its next heartbeat: one
	 * that lost its name since is an orphan to drop now */
	for (i = 0; i < nhad; i++) {
		uint8_t k[AG_KEYBUF], v[8];
		size_t vl = sizeof(v);

		if (!ag_holds_other(&m->holds, had[i], 0) &&
		    !ag_tree_get(m->tree, k, ag_key_orphan(k, had[i]), v, &vl))
			let_go_orphan(m, client, had[i]);
	}
	free(had);
}

struct silence {
	struct ag_meta *m;
	uint64_t now, timeout;
};

static int is_silent(void *arg, uint64_t client)
{
	const struct silence *s = arg;

	return s->now - client_last_seen(s->m, client) >= s->timeout;
}

/* A client's CLIENT record answers its retries; one silent for long
 * after its leases expired will not retry any more (every process that
 * ever committed has one, so they must not pile up). */
static void reap_clients(struct ag_meta *m, uint64_t now, uint64_t timeout)
{
	uint8_t k[AG_KEYBUF];
	uint64_t dead[64];
	int n = silent_records(m, AG_K_CLIENT, now, timeout, dead, 64), i;

	for (i = 0; i < n; i++)
		if (!ag_tree_del(m->tree, k, ag_key_client(k, dead[i])))
			m->pending++;
}

void ag_meta_tick(struct ag_meta *m)
{
	struct ag_space *sp = &m->space;
	uint64_t now = ag_mono_ns();
	uint64_t timeout = (uint64_t)m->cfg->lease_timeout * 1000000000ull;
	uint32_t s;

	if (m->broken)
		return;
	for (s = 0; s < sp->nseg; s++) {
		struct tx tx = { .m = m };

		if (sp->state[s] != AG_SEG_DATA || !sp->owner[s] ||
		    now - client_last_seen(m, sp->owner[s]) < timeout)
			continue;
		AG_INFO("segment %u: lease of silent client %016llx expired",
			s, (unsigned long long)sp->owner[s]);
		if (ag_tx_seal_segment(&tx, s, 0) == 0)
			m->pending++;
		else
			ag_tx_rollback(&tx);
		ag_tx_free(&tx);
	}
	/* a silent client's descriptors are gone with it */
	ag_holds_prune(&m->holds, is_silent,
		       &(struct silence){ m, now, timeout });
	/* a drive that went away under us takes no more pages or records */
	ag_drives_check(m->ds);
	reap_orphans(m, now, timeout);
	reap_clients(m, now, 4 * timeout);
	/* a mostly dead metadata segment: its live pages go elsewhere with
	 * the next commit, and commits go on until it is free again */
	if (ag_space_compact(sp, m->tree) || ag_space_compact_busy(sp))
		m->pending++;
	harvest(m);
	if (m->synced_gen != m->rec.gen &&
	    now - m->unsynced_since >=
		    (uint64_t)AG_MAX(m->cfg->lazy_sync_ms, 0) * 1000000ull)
		sync_soon(m, m->rec.gen);
}

void ag_meta_close(struct ag_meta *m)
{
	if (!m)
		return;
	if (m->syncer_running) {
		pthread_mutex_lock(&m->sync_lock);
		m->syncer_stop = 1;
		pthread_cond_broadcast(&m->sync_cond);
		pthread_mutex_unlock(&m->sync_lock);
		pthread_join(m->syncer, NULL);
		m->syncer_running = 0;
	}
	if (m->tree)
		sync_all(m);
	pthread_mutex_destroy(&m->sync_lock);
	pthread_cond_destroy(&m->sync_cond);
	ag_tree_close(m->tree);
	ag_evlog_close(m);
	ag_holds_free(&m->holds);
	ag_space_destroy(&m->space);
	ag_pagestore_free(m->ps);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	ag_drives_close(m->ds);
	free(m);
}
