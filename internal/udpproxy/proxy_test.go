package udpproxy_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"etcq.dev/etcq/internal/udpproxy"
)

// echo runs a UDP server that sends every datagram back, prefixed with the sender's
// address as the server saw it.
func echo(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDP(append([]byte(from.String()+"|"), buf[:n]...), from)
		}
	}()
	return c
}

func client(t *testing.T, p *udpproxy.Proxy) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newProxy(t *testing.T, target string, seed int64) *udpproxy.Proxy {
	t.Helper()
	p, err := udpproxy.New(target, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// read returns the next datagram, failing the test if none comes within a generous bound.
func read(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func TestForwardsBothWaysWithOneSessionPerClient(t *testing.T) {
	srv := echo(t)
	p := newProxy(t, srv.LocalAddr().String(), 1)
	a, b := client(t, p), client(t, p)
	seen := map[string]bool{}
	for _, c := range []*net.UDPConn{a, b, a} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		from, msg, _ := cut(read(t, c))
		if msg != "ping" {
			t.Fatalf("echo %q", msg)
		}
		seen[from] = true
	}
	if len(seen) != 2 {
		t.Fatalf("the target saw %d client addresses, want 2 (one session per client): %v", len(seen), seen)
	}
	if s := p.Stats(udpproxy.ToTarget); s.Forwarded != 3 || s.Dropped != 0 {
		t.Fatalf("to-target stats %+v", s)
	}
}

// cut splits an echo into the address the target saw and the datagram.
func cut(s string) (from, msg string, ok bool) { return strings.Cut(s, "|") }

// TestSeededLoss: the same seed drops the same datagrams; healing stops the loss.
func TestSeededLoss(t *testing.T) {
	srv := echo(t)
	run := func(seed int64) udpproxy.Stats {
		p := newProxy(t, srv.LocalAddr().String(), seed)
		p.SetFaults(udpproxy.ToTarget, udpproxy.Faults{Loss: 0.3})
		c := client(t, p)
		for i := range 200 {
			if _, err := c.Write(fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := p.Stats(udpproxy.ToTarget)
			if s.Forwarded+s.Dropped == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("proxy saw %+v of 200 datagrams", s)
			}
			time.Sleep(time.Millisecond)
		}
		// Every forwarded datagram comes back (nothing is lost on the way back).
		s := p.Stats(udpproxy.ToTarget)
		for range s.Forwarded {
			read(t, c)
		}
		p.Heal()
		if _, err := c.Write([]byte("after")); err != nil {
			t.Fatal(err)
		}
		if _, msg, _ := cut(read(t, c)); msg != "after" {
			t.Fatalf("after healing: %q", msg)
		}
		return s
	}
	s1, s2 := run(42), run(42)
	if s1 != s2 {
		t.Fatalf("same seed, different losses: %+v vs %+v", s1, s2)
	}
	if s1.Dropped == 0 || s1.Forwarded == 0 {
		t.Fatalf("30%% loss dropped %d of 200", s1.Dropped)
	}
	t.Logf("seed 42, 30%% loss: %+v", s1)
}

// TestDelayKeepsOrder: datagrams held back by the same delay come out in order.
func TestDelayKeepsOrder(t *testing.T) {
	srv := echo(t)
	p := newProxy(t, srv.LocalAddr().String(), 7)
	p.SetFaults(udpproxy.FromTarget, udpproxy.Faults{Delay: 20 * time.Millisecond})
	c := client(t, p)
	for i := range 20 {
		if _, err := c.Write(fmt.Appendf(nil, "%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if _, msg, _ := cut(read(t, c)); msg != fmt.Sprintf("%02d", i) {
			t.Fatalf("datagram %d came back as %q", i, msg)
		}
	}
	if s := p.Stats(udpproxy.FromTarget); s.Forwarded != 20 {
		t.Fatalf("from-target stats %+v", s)
	}
}

func TestCloseIsIdempotentAndStopsForwarding(t *testing.T) {
	srv := echo(t)
	p, err := udpproxy.New(srv.LocalAddr().String(), 1)
	if err != nil {
		t.Fatal(err)
	}
	p.SetFaults(udpproxy.ToTarget, udpproxy.Faults{Delay: time.Hour})
	c := client(t, p)
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
