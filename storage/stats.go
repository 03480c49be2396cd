package storage

// WatchCounts reports the watch streams open on the store and the watchers on them
// (synced and unsynced alike), for metrics.
func (s *Store) WatchCounts() (streams, watchers int) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for ws := range h.streams {
		streams++
		watchers += len(ws.watchers)
	}
	return streams, watchers
}
