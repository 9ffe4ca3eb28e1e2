/*
 * tlscompat.c - libagora-tls.so: what Debian's civetweb 1.15 lacks to
 * serve HTTPS over OpenSSL 3.
 *
 * civetweb loads "libssl.so" at run time and looks up the OpenSSL 1.1
 * functions it was built for, by name. OpenSSL 3 kept every one of them
 * but SSL_get_peer_certificate, which became a macro for
 * SSL_get1_peer_certificate (same meaning: a reference the caller frees),
 * so the lookup failed and civetweb refused TLS. This object provides that
 * name. Its soname is "libssl.so" and agora-s3d links it: civetweb's
 * dlopen finds it already loaded, and a lookup through its handle searches
 * it first, then the real libssl it depends on.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate

X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
	return SSL_get1_peer_certificate(s);
}
