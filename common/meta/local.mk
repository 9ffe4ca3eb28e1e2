# common/meta/local.mk - libagora's meta/ layers (common/LAYERS):
# the metadata: record encodings of the tree, transactions, what agora-metad
# does with them (segment space, applying, reference counts, committing,
# holds, the active metad's lease), and the wire to it (its transport,
# sockets or rsockets, and its frames).

common_libagora_a_SOURCES += \
	common/meta/keys.c common/meta/keys.h common/meta/event.c \
	common/meta/event.h common/meta/evlog.c common/meta/txn.c \
	common/meta/txn.h common/meta/space.c common/meta/space.h \
	common/meta/apply.c common/meta/apply.h common/meta/apply_int.h \
	common/meta/refs.c common/meta/verapply.c common/meta/meta.c common/meta/meta_int.h \
	common/meta/holds.c common/meta/lease.c common/meta/lease.h \
	common/meta/net.c common/meta/net.h common/meta/rpc.c \
	common/meta/rpc.h
