# common/base/local.mk - libagora's base/ layers (common/LAYERS):
# the bottom: the public API and the codes it shares with every layer,
# helpers, the configuration file, the on-drive constants, daemonizing.

common_libagora_a_SOURCES += \
	common/base/base.h common/base/agora.h common/base/util.c \
	common/base/util.h common/base/config.c common/base/config.h \
	common/base/format.h common/base/daemon.c
