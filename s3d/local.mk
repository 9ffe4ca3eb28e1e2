# s3d/local.mk - agora-s3d, the S3 gateway (civetweb): one file per group
# of operations, with the HTTP glue, SigV4 and body handling beside them.

sbin_PROGRAMS += s3d/agora-s3d

# Everything but main.c: the fuzz targets link these too (fuzz/local.mk).
S3D_MODULE_SOURCES = \
	s3d/s3d.h \
	s3d/http.c \
	s3d/err.c \
	s3d/xml.c \
	s3d/sigv4.c \
	s3d/access.c \
	s3d/json.c \
	s3d/policy.c \
	s3d/notify.c \
	s3d/body.c \
	s3d/naming.c \
	s3d/bucket.c \
	s3d/object.c \
	s3d/copy.c \
	s3d/list.c \
	s3d/multipart.c \
	s3d/tagging.c \
	s3d/attributes.c \
	s3d/cors.c \
	s3d/post.c \
	s3d/lifecycle.c \
	s3d/sse.c \
	s3d/versioning.c
s3d_agora_s3d_SOURCES = s3d/main.c $(S3D_MODULE_SOURCES)

# libagora-tls.so (see s3d/tlscompat.c), soname libssl.so: agora-s3d
# loads it from beside itself (the build tree) or from $(pkglibdir).
agoralibdir = $(pkglibdir)
agoralib_PROGRAMS = s3d/libagora-tls.so
s3d_libagora_tls_so_SOURCES = s3d/tlscompat.c
s3d_libagora_tls_so_CFLAGS = $(AM_CFLAGS) -fPIC $(SSL_CFLAGS)
s3d_libagora_tls_so_LDFLAGS = -shared -Wl,-soname,libssl.so
s3d_libagora_tls_so_LDADD = $(SSL_LIBS)
s3d_agora_s3d_CPPFLAGS = $(AM_CPPFLAGS) -DAGORA_PKGLIBDIR='"$(pkglibdir)"'
