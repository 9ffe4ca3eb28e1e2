# common/disk/local.mk - libagora's disk/ layers (common/LAYERS):
# drives and what lives on them directly: raw I/O and labels, the per-drive
# threads, stripe geometry, the page header and the commit ring, mirrored
# pages, the copy-on-write B+tree.

common_libagora_a_SOURCES += \
	common/disk/drive.c common/disk/drive.h common/disk/pool.c \
	common/disk/pool.h common/disk/geometry.h common/disk/page.h \
	common/disk/commit.c common/disk/commit.h common/disk/pager.c \
	common/disk/pager.h common/disk/btree.c common/disk/btree.h \
	common/disk/btree_int.h common/disk/node.c common/disk/cursor.c
