package node

import (
	"bufio"
	"io"
	"log/slog"
	"runtime"

	"etcq.dev/etcq/wire"
)

// streamWriter owns the send side of one client stream: a goroutine that drains a queue of
// responses into a buffer and flushes only when the queue is empty (after yielding once),
// so responses that are ready together leave together, in one packet where they fit.
type streamWriter struct {
	w     io.WriteCloser
	q     chan *wire.Response
	done  chan struct{} // closed when the goroutine has stopped
	quitC chan struct{} // closed by close: no more sends
	log   *slog.Logger
	err   error // set before done is closed
}

func newStreamWriter(w io.WriteCloser, queue int, log *slog.Logger) *streamWriter {
	sw := &streamWriter{
		w:     w,
		q:     make(chan *wire.Response, queue),
		done:  make(chan struct{}),
		quitC: make(chan struct{}),
		log:   log,
	}
	go sw.run()
	return sw
}

// send queues r. It blocks while the queue is full (the client is not reading: back
// pressure) and reports false once the writer has failed or been closed.
func (sw *streamWriter) send(r *wire.Response) bool {
	select {
	case sw.q <- r:
		return true
	case <-sw.done:
		return false
	}
}

// close sends what is queued, closes the send side of the stream and waits for the
// goroutine. Nobody may send after close.
func (sw *streamWriter) close() error {
	close(sw.quitC)
	<-sw.done
	return sw.err
}

func (sw *streamWriter) run() {
	defer close(sw.done)
	bw := bufio.NewWriterSize(sw.w, 64<<10)
	enc := wire.NewEncoder()
	write := func(r *wire.Response) bool {
		frame, err := enc.Frame(r)
		if err == nil {
			_, err = bw.Write(frame)
		}
		if err != nil {
			sw.err = err
			sw.log.Debug("client stream write failed", "err", err)
			return false
		}
		return true
	}
	for {
		select {
		case r := <-sw.q:
			if !write(r) {
				return
			}
			// Drain what else is ready, yield once so that responses made ready by the
			// same event (one applied batch) join, drain again, then flush once: they
			// leave in as few packets as they fit.
			for pass := 0; pass < 2; pass++ {
				if pass == 1 {
					runtime.Gosched()
				}
				for drained := false; !drained; {
					select {
					case r := <-sw.q:
						if !write(r) {
							return
						}
					default:
						drained = true
					}
				}
			}
			if err := bw.Flush(); err != nil {
				sw.err = err
				return
			}
		case <-sw.quitC:
			for {
				select {
				case r := <-sw.q:
					if !write(r) {
						return
					}
				default:
					if err := bw.Flush(); err != nil {
						sw.err = err
						return
					}
					sw.err = sw.w.Close()
					return
				}
			}
		}
	}
}
