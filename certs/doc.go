// Package certs is etcq's built-in PKI, on cfssl v1.6.5: a certificate authority, server,
// peer and client certificates, CSR signing, revocation lists, a PKI directory on disk,
// certificate inspection, and tls.Configs that follow certificate, CA bundle and CRL
// changes without a restart.
//
// # Who calls it
//
// etcqctl's certs commands (init, issue, rotate, inspect, revoke) and the daemon's
// auto-TLS bootstrap and enrollment drive CA, Dir and Inspect. The daemon builds a Reloader
// from its --cert-file/--key-file/--trusted-ca-file/--crl-file flags (or from a PKI
// directory, Dir.Files) and hands Reloader.ServerConfig, PeerConfig and ClientConfig to the
// QUIC listeners and dialers; quicpeer and quicclient only ever see a *tls.Config. Tests of
// other packages use the certstest subpackage. certs imports nothing else of etcq.
//
// # Certificates
//
// NewCA makes a self-signed ECDSA P-256 CA (cfssl initca). CA.Issue makes a new ECDSA
// P-256 key and CSR (cfssl csr) and signs it with cfssl's local signer under a profile:
//
//	server  serverAuth               a member's client-facing certificate
//	peer    serverAuth + clientAuth  a member's certificate towards other members
//	client  clientAuth               a user's or tool's certificate; its CN is the identity
//
// Hosts become DNS and IP SANs. CA.SignCSR signs a CSR made elsewhere (enrollment of a
// joining member), taking only its subject, public key and DNS/IP SANs, and refusing CA
// requests and weak keys. CA.Renew re-issues a certificate with a new key and the same
// name, SANs and profile.
//
// # On disk
//
// A PKI directory (Dir; 0700) holds PEM files; every key file is written 0600, and every
// key file read (Dir, LoadKeyPair, Reloader) is refused with ErrInsecureKeyFile if its mode
// lets group or others access it. Files are replaced atomically (temporary file, fsync,
// rename).
//
//	ca.pem            the CA that signs new certificates
//	ca-key.pem        its private key
//	ca-bundle.pem     the CAs every endpoint trusts: one, or two during a CA rotation
//	crl.pem           one CRL ("X509 CRL" block) per trusted CA; the persisted revocations
//	<name>.pem        a leaf certificate (member-1, member-1-peer, alice, ...)
//	<name>-key.pem    its private key
//	ca-next.pem       the CA being rotated in, between StartCARotation and FinishCARotation
//	ca-next-key.pem
//	ca-old.pem        the CA rotated out by the last FinishCARotation, kept for the record
//	ca-old-key.pem
//	join-tokens.json  join token records (0600; see Join tokens)
//
// A Reloader needs only <name>.pem, <name>-key.pem, ca-bundle.pem and crl.pem; the CA key
// need not be on a member at all.
//
// # Revocation
//
// CA.Revoke records a serial; CA.CRL produces a signed CRL of all of them (crypto/x509);
// Dir.PublishCRL writes it into crl.pem next to the other trusted CAs' CRLs; Dir.LoadCA
// restores the revocations from crl.pem. Endpoints refuse a revoked certificate at the
// next handshake after their Reloader has read the new crl.pem.
//
// # Reloading TLS
//
// A Reloader watches the four files of an endpoint. Handshakes stat them at most once per
// PollInterval (1 s) and re-read those that changed; Reload re-reads all at once. A file
// that fails to load keeps the last good material in use and is logged (slog, Error).
// Every handshake verifies the other side against the current CA bundle and CRLs: a new CA
// in the bundle is trusted at once, a CA removed from it and a revoked certificate are
// refused at once, including on resumed sessions. Connections already established are not
// cut: like etcd, a changed certificate or trust applies to handshakes. The leaf's expiry is available as
// Reloader.Expiry / SecondsUntilExpiry for a metric, and a leaf or CA expiring within 30
// days is logged at Warn. See tlsconfig.go for how the configs verify; the caller sets ALPN
// in the base config and it is kept.
//
// Client configs must know the server's name to check its SAN: DNS names are taken from
// the handshake; for an IP address, ClientConfig/PeerConfig must be called with
// base.ServerName set to it (one config per address).
//
// # CA rotation
//
// Rotating the CA never stops the cluster, because trust is a bundle:
//
//  1. Add the new CA to the bundle: Dir.StartCARotation creates it (ca-next.pem) and
//     appends it to ca-bundle.pem. Copy the bundle to every member and client; their
//     Reloaders now trust both CAs. Certificates of both CAs work.
//  2. Re-issue: for every leaf, CA.Renew from the new CA (Dir.LoadNextCA) and save it
//     (Dir.SaveKeyPair); copy each to its owner. Endpoints pick up their new leaf.
//  3. Drop the old CA: Dir.FinishCARotation makes the new CA ca.pem, keeps the old as
//     ca-old.pem, removes it from ca-bundle.pem and its CRL from crl.pem. Copy the bundle
//     and CRL everywhere; a certificate still signed by the old CA is now refused.
//
// Step 3 must wait until every endpoint has its re-issued certificate, or those that do
// not will be refused. Revocation keeps working throughout: crl.pem holds the CRLs of
// both CAs while both are trusted.
//
// # Join tokens
//
// A machine with nothing but a join token (etcq1.<id>.<secret>.<ca-pin>) enrolls through a
// member that holds the CA key, kubeadm-style: JoinClientConfig pins the CA by the SHA-256
// of its public key (CAPin) and refuses, inside the handshake and before anything is sent,
// a member whose presented chain (Reloader.JoinServerConfig: leaf + CA, no client
// certificate asked) does not chain to it; JoinToken.Proof proves the secret by an HMAC of
// the session's exported keying material (JoinBinding), so the secret never crosses the
// wire and a proof is good for one connection only; Dir.VerifyJoinProof checks it against
// join-tokens.json; NewCSR makes the keys that never leave the joining machine, CA.SignCSR
// signs them on the member, and Dir.SaveEnrollment checks and stores what came back.
// Tokens are multi-use until they expire or are revoked; every token expires. The
// format, the protocol's guarantees and what the records file holds are documented in
// jointoken.go; the daemon's side is cmd/etcq's join.go and enroll.go.
//
// # Concurrency
//
// CA, Trust, Reloader and the tls.Configs it returns are safe for concurrent use. A Trust is
// immutable. Dir does no locking between processes: one writer at a time.
//
// # Errors
//
// Errors wrap a sentinel (errors.Is) where the cause is one of: ErrExpired,
// ErrNotYetValid, ErrUnknownCA (also a CRL with a bad signature), ErrMissingSAN,
// ErrWrongUsage, ErrRevoked, ErrKeyMismatch, ErrUnreadable (and the fs error, e.g.
// fs.ErrNotExist), ErrMalformed, ErrInsecureKeyFile, ErrNotCA, ErrRefused (signing policy),
// ErrNoRotation, ErrJoinTokenInvalid, ErrJoinTokenExpired, ErrJoinTokenRevoked,
// ErrPinMismatch. Over QUIC, a client refused by a server sees only a TLS alert; the server
// logs the reason (slog, Warn).
//
// cfssl's own logger is set to errors only.
package certs
