# fused/local.mk - agora-fused, the FUSE gateway (libfuse3 low-level API).
# Not built yet: sbin_PROGRAMS += fused/agora-fused comes with its sources.
