package certs

import "errors"

// Sentinel errors. Every error returned by this package that has one of these causes wraps
// it (test with errors.Is); the wrapping message names the file, certificate or address.
var (
	// ErrExpired: the certificate's NotAfter is in the past.
	ErrExpired = errors.New("certs: certificate has expired")
	// ErrNotYetValid: the certificate's NotBefore is in the future.
	ErrNotYetValid = errors.New("certs: certificate is not yet valid")
	// ErrUnknownCA: the certificate does not chain to a trusted CA.
	ErrUnknownCA = errors.New("certs: certificate signed by unknown authority")
	// ErrMissingSAN: the certificate has no DNS or IP SAN for the address dialled.
	ErrMissingSAN = errors.New("certs: certificate has no SAN for the address")
	// ErrWrongUsage: the certificate's extended key usages do not allow this role
	// (for example a client certificate presented by a server).
	ErrWrongUsage = errors.New("certs: certificate not valid for this usage")
	// ErrRevoked: the certificate's serial is on a CRL of its issuer.
	ErrRevoked = errors.New("certs: certificate has been revoked")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("certs: private key does not match certificate")
	// ErrUnreadable: a file could not be read (missing, permission denied, ...).
	ErrUnreadable = errors.New("certs: cannot read file")
	// ErrMalformed: PEM or DER that does not parse, or holds the wrong kind of object.
	ErrMalformed = errors.New("certs: malformed certificate, key, CSR or CRL")
	// ErrInsecureKeyFile: a private key file is readable or writable by group or others.
	ErrInsecureKeyFile = errors.New("certs: private key file is accessible by group or others")
	// ErrNotCA: a certificate used as a CA is not a CA certificate.
	ErrNotCA = errors.New("certs: certificate is not a CA")
	// ErrRefused: a signing request was refused by policy (unknown profile, CA request,
	// weak key, empty common name).
	ErrRefused = errors.New("certs: request refused by signing policy")
	// ErrNoRotation: FinishCARotation or LoadNextCA without a StartCARotation.
	ErrNoRotation = errors.New("certs: no CA rotation in progress")
)
