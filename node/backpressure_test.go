package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"etcq.dev/etcq/storage"
)

// TestRefusals: a member without a quorum (one of three, alone) has no leader. Requests
// beyond its proposal queue are refused at once with ErrTooManyRequests; queued ones end
// with ErrNoLeader after an election timeout, never proposed; a request over the size
// limit is refused before anything; and nothing is applied.
func TestRefusals(t *testing.T) {
	cfg := singleConfig(t.TempDir())
	cfg.InitialCluster = append(cfg.InitialCluster,
		MemberInfo{ID: 2, Name: "two", PeerURLs: []string{"https://127.0.0.2:2380"}},
		MemberInfo{ID: 3, Name: "three", PeerURLs: []string{"https://127.0.0.3:2380"}})
	cfg.RequestQueue = 2
	cfg.MaxRequestBytes = 1024
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Put(ctx, storage.PutRequest{Key: []byte("big"), Value: make([]byte, 2048)}); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("oversized put: %v", err)
	}

	const n = 40
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = m.Put(ctx, storage.PutRequest{Key: []byte("k"), Value: []byte("v")})
		}()
	}
	wg.Wait()
	counts := map[error]int{}
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrTooManyRequests):
			counts[ErrTooManyRequests]++
		case errors.Is(err, ErrNoLeader):
			counts[ErrNoLeader]++
		default:
			t.Fatalf("unexpected outcome without a quorum: %v", err)
		}
	}
	if counts[ErrTooManyRequests] == 0 || counts[ErrNoLeader] == 0 {
		t.Fatalf("outcomes %v: want both refusals (queue of %d) and no-leader failures", counts, cfg.RequestQueue)
	}
	if rev := m.Store().Rev(); rev != 1 {
		t.Fatalf("store moved to revision %d without a quorum", rev)
	}

	// A read cannot be linearizable without a leader: it fails (with ErrNoLeader after an
	// election timeout, so the caller can try another member), it is never stale.
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	if _, err := m.Range(rctx, storage.RangeRequest{Key: []byte("k")}, false); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("linearizable read without a leader: %v", err)
	}
}
