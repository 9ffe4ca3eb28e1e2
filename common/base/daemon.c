/*
 * daemon.c - going into the background the way every Agora daemon does:
 * the parent of -d stays until the child says whether it serves, and
 * exits with that status, so a script that started a daemon may use it
 * on the next line (and sees a failure to start as one).
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "agora.h"

int ag_daemon_detach(void)
{
	int p[2];
	char status = 1;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		/* nothing read: the child died, having said why */
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	return p[1];
}

void ag_daemon_ready(int fd, int status, int keep_stderr)
{
	char s = (char)status;
	int null;

	if (fd < 0)
		return;
	if (write(fd, &s, 1) != 1)
		s = 1; /* the parent is gone: nobody to tell */
	close(fd);
	if (status)
		return;
	/* nobody reads the terminal of a detached daemon */
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		return;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	if (!keep_stderr)
		dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
}
