#!/bin/sh
# netns_run.sh NS KEEP CMD...: CMD in network namespace NS, for what lives
# through a test there (a daemon, a loop of clients).
#
# ip netns exec gives CMD a mount namespace of its own holding a copy of
# every mount of that moment. Where / is a private mount, a FUSE mount of
# a test running beside this one would live on in that copy after its
# unmount, and its agora-fused would never see its session end. So every
# FUSE mount but KEEP (the one CMD serves, or "") is detached there first.
ns=$1
keep=$2
shift 2
exec ip netns exec "$ns" sh -c '
	keep=$1
	shift
	awk '"'"'$3 ~ /^fuse/ { print $2 }'"'"' /proc/self/mounts |
		while read -r m; do
			[ "$m" = "$keep" ] || umount -l "$m" 2>/dev/null
		done
	exec "$@"' sh "$keep" "$@"
