package wire

// LeaseGrantRequest creates a lease of TTL seconds; ID 0 lets the server choose the ID.
type LeaseGrantRequest struct {
	TTL int64
	ID  int64
}

// LeaseGrantResponse is the granted lease.
type LeaseGrantResponse struct {
	ID  int64
	TTL int64
}

// LeaseRevokeRequest revokes a lease and deletes its keys.
type LeaseRevokeRequest struct {
	ID int64
}

// LeaseKeepAliveRequest renews a lease.
type LeaseKeepAliveRequest struct {
	ID int64
}

// LeaseKeepAliveResponse carries the renewed TTL (0 or less: the lease is gone).
type LeaseKeepAliveResponse struct {
	ID  int64
	TTL int64
}

// LeaseTimeToLiveRequest asks for a lease's remaining time and, with Keys, its keys.
type LeaseTimeToLiveRequest struct {
	ID   int64
	Keys bool
}

// LeaseTimeToLiveResponse describes a lease; TTL -1 means it has expired or never existed.
type LeaseTimeToLiveResponse struct {
	ID         int64
	TTL        int64
	GrantedTTL int64
	Keys       [][]byte
}

// LeaseStatus names one lease.
type LeaseStatus struct {
	ID int64
}

// LeaseLeasesResponse lists every lease.
type LeaseLeasesResponse struct {
	Leases []LeaseStatus
}
