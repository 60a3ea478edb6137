// Package security is what Kafka's listener security protocols need that
// is not I/O: TLS configurations built from Kafka's ssl.* settings (JKS,
// PKCS12 and PEM key and trust stores, reloadable without a restart), the
// principal of a certificate (ssl.principal.mapping.rules), JAAS
// configuration text (sasl.jaas.config), and the server side of the SASL mechanisms PLAIN
// (RFC 4616), SCRAM-SHA-256/512 (RFC 5802, RFC 7677) and OAUTHBEARER
// (RFC 7628, KIP-255; its token validators in oauthbearer_validators.go)
// as state machines that take the client's bytes and return the server's.
//
// The caller (internal/server for listeners, internal/node for the
// connections nodes make to each other) owns sockets, framing, timers and
// logs. A listener's connection goes through these steps:
//
//	TCP accept
//	   │ SSL, SASL_SSL: TLS handshake with ServerTLS.Config();
//	   │ the client certificate, if any, names the principal
//	   │ (SSLPrincipalMapper.Name of its subject DN), else User:ANONYMOUS
//	   ▼
//	SASL_PLAINTEXT, SASL_SSL only, in Kafka frames (KIP-43, KIP-152):
//	   ApiVersions (optional) ─▶ SaslHandshake{mechanism}
//	      ─▶ SaslAuthenticate{client bytes} ◀─ {server bytes, session_lifetime_ms}
//	         ... NewServerSession(...).Step(client bytes) until done
//	   the principal is User:<authorization id>
//	   ▼
//	requests, with Session (principal, listener, protocol, address) known
//
// The SASL exchanges, client (C) and server (S):
//
//	PLAIN       C: [authzid] NUL authcid NUL passwd          S: (empty), done
//	SCRAM       C: gs2-header n=user,r=cnonce[,ext]           client-first
//	            S: r=cnonce+snonce,s=base64(salt),i=iterations server-first
//	            C: c=base64(gs2-header),r=nonce,p=base64(proof) client-final
//	            S: v=base64(server signature), done            server-final
//	OAUTHBEARER C: n,[a=authzid],^Aauth=Bearer <jwt>^A[k=v^A]^A
//	            S: (empty), done; the session ends at the token's exp
//	            or, token refused:
//	            S: {"status":"invalid_token"}  C: ^A  → failed with that message
//
// A SCRAM credential is what the metadata log stores for a user and
// mechanism (Kafka's UserScramCredentialRecord): the salt, the iteration
// count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key"), where SaltedPassword =
// PBKDF2(password, salt, iterations). Never the password.
//
// A delegation token (KIP-48, delegation_token.go) logs in with SCRAM
// and the extension tokenauth=true: user = token id, password =
// base64(HMAC-SHA512(secret key, token id)); the server takes the token
// from Credentials.DelegationToken and the session is its owner's
// (TokenAuthenticator), until the token expires.
//
// Errors: a failed authentication returns an error that wraps
// ErrAuthenticationFailed; ClientMessage gives the text the client may see,
// which never says whether the user or the password was wrong.
//
// Everything here is safe for concurrent use except a ServerSession, which
// belongs to one connection.
package security
