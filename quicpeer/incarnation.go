package quicpeer

// Every transport draws a random incarnation when it is made and sends it in the headers
// of the streams it opens and of its answers. A member whose incarnation changes has
// restarted: the connections to and from its previous process lead nowhere, even if
// nothing said so (a crash sends no close, and without a stateless reset key kept across
// restarts nothing else would tell before the idle timeout).

// noteIncarnation records an incarnation of member p seen on the wire: in the header of
// a stream it opened, or in its answer to ours. It closes the connections that belong to
// another incarnation, both ways, so that the outgoing one is redialled at once.
func (t *Transport) noteIncarnation(p *peer, inc uint64) {
	t.mu.Lock()
	if t.peers[p.id] != p {
		t.mu.Unlock()
		return // removed meanwhile
	}
	prev := t.incarnations[p.id]
	t.incarnations[p.id] = inc
	var stale []*inConn
	if prev != inc {
		stale = t.inboundOf(p.id, inc)
	}
	t.mu.Unlock()
	dropped := p.dropStale(inc)
	if (prev != 0 && prev != inc) || dropped {
		p.log.Info("peer restarted; replacing its connections")
	}
	for _, ic := range stale {
		closeConn(ic.conn, errPeerRestarted)
	}
}

// dropStale closes the connection to the member if it leads to an incarnation other than
// inc, and reports whether it did.
func (p *peer) dropStale(inc uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.connInc == inc {
		return false
	}
	closeConn(p.conn, errPeerRestarted)
	p.poke()
	return true
}
