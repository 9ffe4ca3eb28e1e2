# fused/local.mk - agora-fused, the FUSE gateway (libfuse3 low-level API).

sbin_PROGRAMS += fused/agora-fused

fused_agora_fused_SOURCES = fused/fused.h fused/main.c fused/node.c \
	fused/data.c fused/dir.c fused/fh.c fused/keep.c \
	fused/notify.c
