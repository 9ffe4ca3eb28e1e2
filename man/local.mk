# man/local.mk - manual pages (mdoc).

dist_man_MANS += man/agora.8 man/agora-metad.8 man/agora.conf.5 \
	man/agora-format.5 man/agora-fused.8 man/agora-s3d.8
