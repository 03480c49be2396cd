package udpproxy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Direction is one way through the proxy.
type Direction int

const (
	// ToTarget: datagrams from clients to the target.
	ToTarget Direction = iota
	// FromTarget: the target's answers to clients.
	FromTarget
)

func (d Direction) String() string {
	if d == ToTarget {
		return "to-target"
	}
	return "from-target"
}

// Faults is what happens to datagrams going one way.
type Faults struct {
	// Loss is the probability, in [0, 1], that a datagram is dropped.
	Loss float64
	// Delay holds each datagram back; Jitter adds a uniformly random extra in
	// [0, Jitter), which reorders datagrams as a real network may.
	Delay, Jitter time.Duration
}

// Stats counts datagrams going one way.
type Stats struct {
	Forwarded, Dropped uint64
}

// ErrClosed is returned by methods of a closed proxy.
var ErrClosed = errors.New("udpproxy: closed")

const maxDatagram = 64 << 10

// Proxy forwards datagrams between clients and one target. Its methods are safe for
// concurrent use.
type Proxy struct {
	ln     *net.UDPConn
	target *net.UDPAddr
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	rng      *rand.Rand
	faults   [2]Faults
	stats    [2]Stats
	sessions map[string]*session
	queues   [2]*delayQueue
}

type session struct {
	client   *net.UDPAddr
	upstream *net.UDPConn
}

// New starts a proxy on 127.0.0.1 (an ephemeral port) that forwards to target. seed
// feeds the random source of losses and jitter.
func New(target string, seed int64) (*Proxy, error) {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: target %q: %w", target, err)
	}
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("udpproxy: listen: %w", err)
	}
	p := &Proxy{
		ln:       ln,
		target:   taddr,
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		sessions: make(map[string]*session),
	}
	for d := range p.queues {
		p.queues[d] = newDelayQueue()
		p.wg.Add(1)
		go p.deliver(p.queues[d])
	}
	p.wg.Add(1)
	go p.readClients()
	return p, nil
}

// Addr returns the address clients send to.
func (p *Proxy) Addr() *net.UDPAddr { return p.ln.LocalAddr().(*net.UDPAddr) }

// SetFaults sets what happens to datagrams going direction d from now on.
func (p *Proxy) SetFaults(d Direction, f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[d] = f
}

// Heal removes every fault, both ways.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = [2]Faults{}
}

// Stats returns the counts for direction d.
func (p *Proxy) Stats(d Direction) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats[d]
}

// Close stops the proxy and closes its sockets; datagrams still held back are dropped.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	err := p.ln.Close()
	for _, s := range sessions {
		_ = s.upstream.Close()
	}
	for _, q := range p.queues {
		q.close()
	}
	p.wg.Wait()
	return err
}

// readClients forwards datagrams from clients towards the target.
func (p *Proxy) readClients() {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := p.ln.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s, err := p.session(from)
		if err != nil {
			continue
		}
		p.forward(ToTarget, buf[:n], func(b []byte) { _, _ = s.upstream.Write(b) })
	}
}

// session returns the session of client from, starting one if needed.
func (p *Proxy) session(from *net.UDPAddr) (*session, error) {
	key := from.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if s := p.sessions[key]; s != nil {
		return s, nil
	}
	up, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil, fmt.Errorf("udpproxy: dial target: %w", err)
	}
	s := &session{client: from, upstream: up}
	p.sessions[key] = s
	p.wg.Add(1)
	go p.readTarget(s)
	return s, nil
}

// readTarget forwards the target's answers to one client.
func (p *Proxy) readTarget(s *session) {
	defer p.wg.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.upstream.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A target that is down makes the kernel report "connection refused" on a
			// connected socket; the session stays for when it is back.
			continue
		}
		p.forward(FromTarget, buf[:n], func(b []byte) { _, _ = p.ln.WriteToUDP(b, s.client) })
	}
}

// forward applies direction d's faults to datagram b and sends it with send, now or
// after its delay.
func (p *Proxy) forward(d Direction, b []byte, send func([]byte)) {
	p.mu.Lock()
	f := p.faults[d]
	lost := f.Loss > 0 && p.rng.Float64() < f.Loss
	delay := f.Delay
	if f.Jitter > 0 {
		delay += time.Duration(p.rng.Int64N(int64(f.Jitter)))
	}
	if lost {
		p.stats[d].Dropped++
	} else {
		p.stats[d].Forwarded++
	}
	p.mu.Unlock()
	switch {
	case lost:
	case delay <= 0:
		send(b)
	default:
		p.queues[d].push(time.Now().Add(delay), append([]byte(nil), b...), send)
	}
}

// deliver sends held-back datagrams when their time comes.
func (p *Proxy) deliver(q *delayQueue) {
	defer p.wg.Done()
	for {
		it, ok := q.pop()
		if !ok {
			return
		}
		it.send(it.data)
	}
}
