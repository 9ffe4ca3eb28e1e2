# common/store/local.mk - libagora's store/ layers (common/LAYERS):
# the chunk store: chunking, similarity deltas, erasure coding, stripes
# and their mirrored form, the chunk cache.

common_libagora_a_SOURCES += \
	common/store/cdc.c common/store/cdc.h common/store/delta.c \
	common/store/delta.h common/store/ec.c \
	common/store/ec.h common/store/stripe.c common/store/stripe.h \
	common/store/stripe_int.h common/store/mirror.c \
	common/store/chunkcache.c common/store/chunkcache.h
