package wire

// FilterType drops events of one kind from a watch.
type FilterType int32

// The filters.
const (
	FilterNoPut FilterType = iota
	FilterNoDelete
)

// WatchCreateRequest starts a watcher on [Key, RangeEnd) from StartRevision (0: the next
// revision).
type WatchCreateRequest struct {
	Key, RangeEnd  []byte
	StartRevision  int64
	ProgressNotify bool
	Filters        []FilterType
	PrevKV         bool
	// WatchID picks the watcher's id; 0 lets the server choose.
	WatchID  int64
	Fragment bool
}

// WatchCancelRequest stops a watcher.
type WatchCancelRequest struct {
	WatchID int64
}

// WatchProgressRequest asks for a progress notification on every watcher of the stream.
type WatchProgressRequest struct{}

// EventType says whether an event is a put or a delete.
type EventType int32

// The event types.
const (
	EventPut EventType = iota
	EventDelete
)

// Event is one change of a key.
type Event struct {
	Type   EventType
	KV     KeyValue
	PrevKV *KeyValue
}

// WatchResponse is everything a server sends on a watch stream: the answer to a create
// (Created) or a cancel (Canceled), a batch of events of one watcher, or a progress
// notification (no events; the header's revision is the progress). WatchID -1 in a
// progress notification means it covers every watcher of the stream.
type WatchResponse struct {
	WatchID         int64
	Created         bool
	Canceled        bool
	CompactRevision int64
	CancelReason    string
	Fragment        bool
	Events          []Event
}
