# metad/local.mk - agora-metad, the metadata commit daemon, and agora, the
# admin tool. Both link AGORA_LIBS through the default LDADD.

sbin_PROGRAMS += metad/agora-metad metad/agora

metad_agora_metad_SOURCES = metad/metad.c
metad_agora_SOURCES = metad/agora.c metad/agora_events.c metad/agora_events.h
