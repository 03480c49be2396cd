package storage

import (
	"errors"
	"hash/crc32"
)

// HashKVResult is the outcome of HashKV.
type HashKVResult struct {
	Hash uint32
	// Revision is the revision the hash covers; CompactRevision is the compaction it
	// assumed. Members agree on Hash when they agree on both.
	Revision        int64
	CompactRevision int64
}

// HashKV returns a CRC-32C over the history up to rev (<= 0: the current revision) as every
// member holds it after a compaction: every record above the compacted revision, and at or
// below it only the versions a read at the compacted revision sees (plus the records at
// exactly that revision). It does not depend on how far the physical removal of a
// compaction has progressed, so members can compare hashes to detect corruption.
func (s *Store) HashKV(rev int64) (HashKVResult, error) {
	for {
		res, err := s.hashKV(rev)
		if errors.Is(err, errCompactRaced) {
			continue // a compaction began while hashing; hash again against it
		}
		return res, err
	}
}

var errCompactRaced = errors.New("storage: compaction raced with hash")

func (s *Store) hashKV(rev int64) (HashKVResult, error) {
	if s.closed.Load() {
		return HashKVResult{}, ErrClosed
	}
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	v, err := s.be.view()
	if err != nil {
		return HashKVResult{}, err
	}
	defer v.Close()
	cur := s.rev.Load()
	if rev <= 0 {
		rev = cur
	}
	if rev > cur {
		return HashKVResult{}, ErrFutureRev
	}
	compacted := s.compactRev.Load()
	if rev < compacted {
		return HashKVResult{}, ErrCompacted
	}
	h := crc32.New(castagnoli)
	var kv KeyValue
	v.scan(nil, revKeyPrefix(rev+1), func(k, val []byte) bool {
		r, tomb, perr := parseRevKey(k)
		if perr != nil {
			err = perr
			return false
		}
		if r.Main < compacted {
			if tomb {
				return true
			}
			if err = decodeRecord(val, &kv, false); err != nil {
				return false
			}
			if vis, ok := s.idx.get(kv.Key, compacted); !ok || vis != r {
				return true
			}
		}
		h.Write(k)
		h.Write(val)
		return true
	})
	if err != nil {
		return HashKVResult{}, err
	}
	if s.compactRev.Load() != compacted {
		return HashKVResult{}, errCompactRaced
	}
	return HashKVResult{Hash: h.Sum32(), Revision: rev, CompactRevision: compacted}, nil
}

// Hash returns a CRC-32C of every record stored in the file (committed or pending), as it
// is physically: it changes as a compaction's removal progresses. Use HashKV to compare
// members.
func (s *Store) Hash() (uint32, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	s.swapMu.RLock()
	defer s.swapMu.RUnlock()
	v, err := s.be.view()
	if err != nil {
		return 0, err
	}
	defer v.Close()
	h := crc32.New(castagnoli)
	v.scan(nil, nil, func(k, val []byte) bool {
		h.Write(k)
		h.Write(val)
		return true
	})
	return h.Sum32(), nil
}
