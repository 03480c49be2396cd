package quicpeer_test

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain fails the run if, once every test has closed its transports, goroutines of
// quicpeer or quic-go are still running.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(eventually)
		for {
			leaked := leakedGoroutines()
			if leaked == "" {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "goroutines left after all tests:\n%s\n", leaked)
				code = 1
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.Exit(code)
}
