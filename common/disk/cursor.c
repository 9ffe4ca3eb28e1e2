/*
 * cursor.c - iterating over a B+tree in key order (see btree.h): a cursor
 * that ag_tree_seek() placed keeps the address and slot of each node on
 * its path, so that it reloads pages through the node map rather than
 * holding node pointers across calls, and survives the map evicting them.
 */
#include <errno.h>
#include <stdlib.h>

#include "btree_int.h"

/* Move to the first leaf after the current one; 0 at the end. */
static int next_leaf(struct ag_cursor *c)
{
	struct node *n;
	int l, rc;

	for (l = 1; l < c->height; l++) {
		if ((rc = ag_tree_load(c->t, c->st[l].addr, l, &n)))
			return rc;
		if (c->st[l].idx + 1 < (int)nkeys(n->buf))
			break;
	}
	if (l == c->height)
		return 0;
	c->st[l].idx++;
	for (; l > 0; l--) {
		if ((rc = ag_tree_load(c->t, c->st[l].addr, l, &n)))
			return rc;
		c->st[l - 1].addr = child(n->buf, c->st[l].idx);
		c->st[l - 1].idx = 0;
	}
	return 1;
}

int ag_cursor_next(struct ag_cursor *c, const void **key, size_t *klen,
		   const void **val, size_t *vlen)
{
	struct node *n;
	int rc;

	if (!c)
		return -EINVAL;
	ag_tree_trim(c->t);
	while (!c->done && !c->err) {
		const uint8_t *b, *cell;
		unsigned plen, sl;

		if ((rc = ag_tree_load(c->t, c->st[0].addr, 0, &n))) {
			c->err = rc;
			break;
		}
		b = n->buf;
		if (c->st[0].idx >= (int)nkeys(b)) {
			rc = next_leaf(c);
			if (rc <= 0) {
				c->done = !rc;
				c->err = rc;
			}
			continue;
		}
		cell = b + slot(b, c->st[0].idx++);
		plen = nplen(b);
		sl = get_le16(cell);
		cpy(c->key, nprefix(b), plen);
		cpy(c->key + plen, cell + LCELL, sl);
		*vlen = get_le16(cell + 2);
		cpy(c->val, cell + LCELL + sl, *vlen);
		*key = c->key;
		*klen = plen + sl;
		*val = c->val;
		return 1;
	}
	return c->err;
}

void ag_cursor_free(struct ag_cursor *c)
{
	free(c);
}
