/*
 * config.c - parse the INI cluster configuration into struct ag_config.
 * One table lists every key with its section and how to parse it.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agora.h" /* ag_config_walk is public */
#include "config.h"
#include "util.h"

enum kind { K_STR, K_SIZE32, K_SIZE64, K_INT, K_DRIVES, K_EC };

struct key_desc {
	const char *section, *name;
	enum kind kind;
	size_t off;
};

#define F(f) offsetof(struct ag_config, f)
static const struct key_desc keys[] = {
	{ "cluster", "drives", K_DRIVES, 0 },
	{ "cluster", "ec", K_EC, 0 },
	{ "cluster", "drive_size", K_SIZE64, F(drive_size) },
	{ "cluster", "metad", K_STR, F(metad) },
	{ "cluster", "chunk_min", K_SIZE32, F(chunk_min) },
	{ "cluster", "chunk_avg", K_SIZE32, F(chunk_avg) },
	{ "cluster", "chunk_max", K_SIZE32, F(chunk_max) },
	{ "cluster", "strip_size", K_SIZE32, F(strip_size) },
	{ "cluster", "segment_size", K_SIZE64, F(segment_size) },
	{ "cluster", "zstd_level", K_INT, F(zstd_level) },
	{ "cluster", "page_cache", K_SIZE64, F(page_cache) },
	{ "cluster", "chunk_cache", K_SIZE64, F(chunk_cache) },
	{ "cluster", "metad_timeout", K_INT, F(metad_timeout) },
	{ "metad", "pidfile", K_STR, F(pidfile) },
	{ "metad", "log", K_STR, F(log) },
	{ "metad", "batch_max", K_INT, F(batch_max) },
	{ "metad", "lease_timeout", K_INT, F(lease_timeout) },
	{ "metad", "active_lease_ms", K_INT, F(active_lease_ms) },
	{ "metad", "lazy_sync_ms", K_INT, F(lazy_sync_ms) },
	{ "clean", "free_pct", K_INT, F(clean_free_pct) },
	{ "clean", "mirrored_pct", K_INT, F(clean_mirrored_pct) },
	{ "clean", "interval", K_INT, F(clean_interval) },
	{ "clean", "rate", K_INT, F(clean_rate) },
	{ "scrub", "rate", K_INT, F(scrub_rate) },
	{ "scrub", "interval", K_INT, F(scrub_interval) },
	{ "lifecycle", "interval", K_INT, F(lifecycle_interval) },
	{ "lifecycle", "day", K_INT, F(lifecycle_day) },
	{ "events", "keep", K_INT, F(events_keep) },
};
#undef F

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int parse_drives(struct ag_config *c, char *val)
{
	char *save, *tok;

	for (tok = strtok_r(val, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (!*tok)
			continue;
		if (c->ndrives == AG_MAX_DRIVES)
			return -E2BIG;
		c->drives[c->ndrives] = strdup(tok);
		if (!c->drives[c->ndrives])
			return -ENOMEM;
		c->ndrives++;
	}
	return c->ndrives ? 0 : -EINVAL;
}

static int set_key(struct ag_config *c, const struct key_desc *d, char *val)
{
	char *p = (char *)c + d->off, *end;
	uint64_t v;
	int rc;

	switch (d->kind) {
	case K_STR:
		free(*(char **)p);
		*(char **)p = strdup(val);
		return *(char **)p ? 0 : -ENOMEM;
	case K_SIZE32:
		rc = ag_parse_size(val, &v);
		if (rc || v > UINT32_MAX)
			return -EINVAL;
		*(uint32_t *)p = v;
		return 0;
	case K_SIZE64:
		return ag_parse_size(val, (uint64_t *)p);
	case K_INT:
		errno = 0;
		*(int *)p = strtol(val, &end, 10);
		return errno || *end || end == val ? -EINVAL : 0;
	case K_DRIVES:
		return parse_drives(c, val);
	case K_EC:
		if (sscanf(val, "%d+%d", &c->ec_k, &c->ec_m) != 2 ||
		    c->ec_k < 1 || c->ec_m < 0 || c->ec_k + c->ec_m > 32)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

static void set_defaults(struct ag_config *c)
{
	c->ec_k = 4;
	c->ec_m = 2;
	c->drive_size = 1ull << 30;
	c->chunk_min = 16 << 10;
	c->chunk_avg = 64 << 10;
	c->chunk_max = 256 << 10;
	c->strip_size = 64 << 10;
	c->segment_size = 4 << 20;
	c->zstd_level = 1;
	c->page_cache = 64 << 20;
	c->chunk_cache = 256 << 20;
	c->metad_timeout = 60;
	c->batch_max = 256;
	c->lease_timeout = 30;
	c->active_lease_ms = 2000;
	c->lazy_sync_ms = 1000;
	c->clean_free_pct = 20;
	c->clean_mirrored_pct = 10;
	c->clean_interval = 60;
	c->clean_rate = 0;
	c->scrub_rate = 50;
	c->scrub_interval = 86400;
	c->lifecycle_interval = 3600;
	c->lifecycle_day = 86400;
}

int ag_config_walk(const char *file,
		   int (*cb)(void *arg, const char *section, const char *key,
			     char *val, int lineno),
		   void *arg)
{
	char line[8192], section[64] = "";
	int lineno = 0, rc = 0;
	FILE *f = fopen(file, "r");

	if (!f) {
		rc = -errno;
		AG_ERR("%s: %s", file, strerror(errno));
		return rc;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *val;

		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (!e || e[1] || e - s - 1 >= (long)sizeof(section)) {
				AG_ERR("%s:%d: bad section header", file, lineno);
				rc = -EINVAL;
				break;
			}
			*e = 0;
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			AG_ERR("%s:%d: expected key = value", file, lineno);
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		val = eq + 1;
		/* a comment may follow a value after white space */
		for (char *h = val; *h; h++)
			if ((*h == '#' || *h == ';') && h > val &&
			    isspace((unsigned char)h[-1])) {
				*h = 0;
				break;
			}
		rc = cb(arg, section, trim(s), trim(val), lineno);
	}
	fclose(f);
	return rc;
}

struct load {
	struct ag_config *c;
	const char *file;
};

/* One key of [cluster], [metad], [clean], [scrub] or [events]; other
 * sections are the gateways'. */
static int load_key(void *arg, const char *section, const char *key,
		    char *val, int lineno)
{
	struct load *l = arg;
	size_t i;
	int rc;

	for (i = 0; i < AG_ARRAY_LEN(keys); i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].name, key))
			break;
	if (i == AG_ARRAY_LEN(keys)) {
		if (strcmp(section, "cluster") && strcmp(section, "metad") &&
		    strcmp(section, "clean") && strcmp(section, "scrub") &&
		    strcmp(section, "events"))
			return 0;
		AG_ERR("%s:%d: unknown key '%s' in [%s]", l->file, lineno,
		       key, section);
		return -EINVAL;
	}
	rc = set_key(l->c, &keys[i], val);
	if (rc)
		AG_ERR("%s:%d: bad value for %s: '%s'", l->file, lineno, key,
		       val);
	return rc;
}

int ag_config_load(const char *file, struct ag_config **cp)
{
	struct load l = { .file = file };
	struct ag_config *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	set_defaults(c);
	c->path = strdup(file);
	l.c = c;
	rc = ag_config_walk(file, load_key, &l);
	if (!rc && !c->ndrives) {
		AG_ERR("%s: [cluster] drives is missing", file);
		rc = -EINVAL;
	}
	if (!rc && !c->metad) {
		AG_ERR("%s: [cluster] metad is missing", file);
		rc = -EINVAL;
	}
	if (!rc && c->metad_timeout < 1) {
		AG_ERR("%s: [cluster] metad_timeout must be 1 second or more",
		       file);
		rc = -EINVAL;
	}
	if (!rc && c->active_lease_ms < 200) {
		AG_ERR("%s: [metad] active_lease_ms must be 200 or more", file);
		rc = -EINVAL;
	}
	if (rc) {
		ag_config_free(c);
		return rc;
	}
	*cp = c;
	return 0;
}

int ag_config_metad_has(const struct ag_config *c, const char *addr)
{
	size_t n = strlen(addr);
	const char *p = c->metad;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, addr, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

void ag_config_free(struct ag_config *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->ndrives; i++)
		free(c->drives[i]);
	free(c->path);
	free(c->metad);
	free(c->pidfile);
	free(c->log);
	free(c);
}
