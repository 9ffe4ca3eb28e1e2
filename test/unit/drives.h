/*
 * drives.h - drive files for the unit tests that need drives but no metad
 * and no tree: ndrives files in a temporary directory under base, their
 * config (ec, drive_size; 64 KiB strips, 1 MiB segments), formatted and
 * opened; drive_files_close removes them. Header-only, as tap.h is.
 */
#ifndef AG_TEST_DRIVES_H
#define AG_TEST_DRIVES_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drive.h"

struct drive_files {
	char dir[256];
	int n;
	struct ag_config *cfg;
	struct ag_drives *ds;
};

/* The temporary directory under base (TMPDIR or /tmp when NULL), named
 * after tag. 0 or a negative errno. */
static inline int drive_files_open(struct drive_files *df, const char *base,
				   const char *tag, int ndrives,
				   const char *ec, const char *drive_size)
{
	const char *tmp = getenv("TMPDIR");
	char path[512];
	struct ag_label l;
	FILE *f;
	int i, rc;

	memset(df, 0, sizeof(*df));
	df->n = ndrives;
	if (!base)
		base = tmp && *tmp ? tmp : "/tmp";
	snprintf(df->dir, sizeof(df->dir), "%s/agora-%s-XXXXXX", base, tag);
	if (!mkdtemp(df->dir))
		return -errno;
	snprintf(path, sizeof(path), "%s/agora.conf", df->dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "[cluster]\ndrives = ");
	for (i = 0; i < ndrives; i++)
		fprintf(f, "%s%s/d%d", i ? ", " : "", df->dir, i);
	fprintf(f, "\nec = %s\ndrive_size = %s\nmetad = unix:%s/metad\n"
		   "strip_size = 64K\nsegment_size = 1M\n", ec, drive_size,
		df->dir);
	fclose(f);
	rc = ag_config_load(path, &df->cfg);
	if (!rc)
		rc = ag_drives_format(df->cfg, 0, &l);
	if (!rc)
		rc = ag_drives_open(df->cfg, &df->ds);
	return rc;
}

static inline void drive_files_close(struct drive_files *df)
{
	char path[512];
	int i;

	ag_drives_close(df->ds);
	if (df->cfg)
		ag_config_free(df->cfg);
	for (i = 0; i < df->n; i++) {
		snprintf(path, sizeof(path), "%s/d%d", df->dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/agora.conf", df->dir);
	unlink(path);
	rmdir(df->dir);
}

#endif
