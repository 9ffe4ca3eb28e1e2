# s3d/local.mk - agora-s3d, the S3 gateway (civetweb).
# Not built yet: sbin_PROGRAMS += s3d/agora-s3d comes with its sources.
