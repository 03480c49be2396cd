package certs

import cflog "github.com/cloudflare/cfssl/log"

// cfssl logs every signature at [INFO] to stderr; only its errors are worth seeing.
// This is the only place that touches cfssl's global logger.
func init() {
	cflog.Level = cflog.LevelError
}
