// Package e2e holds end-to-end tests: they build the etcq and etcqctl binaries, start
// real member processes on 127.0.0.1 with certificates generated on disk, and drive them
// through the CLI and the Go client, as an operator would.
//
// The tests are skipped with -short. Processes are stopped (by PID) when a test ends; their
// logs are printed if it failed.
package e2e
