/*
 * fixture.h - a real cluster for the unit tests that need one: six drive
 * files in a temporary directory, their config, mkfs, and a real
 * agora-metad (built next to the test) started and stopped around the
 * test. Static functions, as tap.h: include it in one test program.
 *
 *   fixture_init("name")  makes the directory and the config (0 or -1)
 *   fixture_mkfs()        formats the drives
 *   fixture_start_metad() / fixture_stop_metad()
 *   fixture_done()        removes the directory unless a test failed
 */
#ifndef AG_FIXTURE_H
#define AG_FIXTURE_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "config.h"

static char dir[256], conf[300];
static pid_t metad = -1;

static inline void fixture_write_config(void)
{
	FILE *f = fopen(conf, "w");
	int i;

	fprintf(f, "[cluster]\ndrives = ");
	for (i = 0; i < 6; i++)
		fprintf(f, "%s%s/d%d", i ? "," : "", dir, i);
	fprintf(f, "\nec = 4+2\ndrive_size = 128M\nmetad = unix:%s/metad.sock\n"
		   "chunk_min = 1K\nchunk_avg = 4K\nchunk_max = 16K\n"
		   "strip_size = 16K\nsegment_size = 1M\n"
		   "[metad]\nlease_timeout = 30\n"
		   "[events]\nkeep = 64\n", dir);
	fclose(f);
}

static inline int fixture_init(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/agora-%s.XXXXXX", tmp ? tmp : "/tmp",
		 name);
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/agora.conf", dir);
	fixture_write_config();
	return 0;
}

static inline int fixture_mkfs(void)
{
	struct ag_config *cfg;
	int rc = ag_config_load(conf, &cfg);

	if (rc)
		return rc;
	rc = ag_meta_mkfs(cfg, 0);
	ag_config_free(cfg);
	return rc;
}

static inline int fixture_start_metad(void)
{
	const char *b = getenv("AGORA_BUILDDIR");
	char bin[512], sock[300];
	int i;

	snprintf(bin, sizeof(bin), "%s/metad/agora-metad", b ? b : ".");
	snprintf(sock, sizeof(sock), "%s/metad.sock", dir);
	unlink(sock);
	metad = fork();
	if (!metad) {
		char log[320];
		int fd;

		/* metad must not hold the test's output open (the TAP driver
		 * waits for it to close) nor outlive the test */
		snprintf(log, sizeof(log), "%s/metad.log", dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(bin, bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (!access(sock, F_OK))
			return 0;
		usleep(10000);
	}
	return -1;
}

static inline void fixture_stop_metad(void)
{
	if (metad > 0) {
		kill(metad, SIGTERM);
		waitpid(metad, NULL, 0);
		metad = -1;
	}
}

/* Remove the directory when every test passed; keep it to look at when
 * one failed. */
static inline void fixture_done(int failed)
{
	char cmd[400];

	if (failed) {
		printf("# kept %s\n", dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
}

#endif
