/*
 * handle.c - the public cluster handle (agora.h): opening stacks the
 * layers, the cluster client (cluster.c) and above it the table of files
 * a gateway holds open (openfile.c), which the handle below reaches only
 * through the operations it is given here; closing takes them down in
 * the reverse order (open files commit first, then leases go back).
 */
#include "cluster.h"
#include "openfile.h"

int ag_cluster_open(const char *config, int flags, struct ag_cluster **cp)
{
	return ag_cl_open(config, flags, &ag_open_files_ops, cp);
}

void ag_cluster_close(struct ag_cluster *c)
{
	ag_cl_close(c);
}
