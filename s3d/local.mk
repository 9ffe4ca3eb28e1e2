# s3d/local.mk - agora-s3d, the S3 gateway (civetweb): one file per group
# of operations, with the HTTP glue, SigV4 and body handling beside them.

sbin_PROGRAMS += s3d/agora-s3d

s3d_agora_s3d_SOURCES = \
	s3d/s3d.h \
	s3d/main.c \
	s3d/http.c \
	s3d/err.c \
	s3d/xml.c \
	s3d/sigv4.c \
	s3d/body.c \
	s3d/naming.c \
	s3d/bucket.c \
	s3d/object.c \
	s3d/copy.c \
	s3d/list.c \
	s3d/multipart.c
