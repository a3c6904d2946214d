package netdelay

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// queueLimit bounds the bytes one direction holds. A reader that gets this far ahead of
// the delayed writer stops reading, so TCP's own flow control pushes back on the sender
// instead of the proxy buffering without bound. 16 MiB is more than a 10 Gbit/s stream
// holds in flight at 10 ms, far more than three database servers on one host produce.
const queueLimit = 16 << 20

// readSize is the largest chunk read at once; a chunk is what gets one release time.
const readSize = 64 << 10

// DelayCopy copies src to dst holding every byte for delay(), read when the byte arrives,
// in FIFO order (see Queue). It returns when src has ended and everything read was
// written, or at the first write error; the caller then closes both ends, which also
// stops the reading goroutine if it is still blocked in src.Read.
func DelayCopy(dst io.Writer, src io.Reader, delay func() time.Duration) (int64, error) {
	p := &pipe{}
	p.cond = sync.NewCond(&p.mu)
	go p.read(src, delay)
	return p.write(dst)
}

type pipe struct {
	mu   sync.Mutex
	cond *sync.Cond
	q    Queue
	eof  bool  // the reader is done
	rerr error // its error, nil for a clean EOF
	dead bool  // the writer failed; the reader must stop queueing
}

func (p *pipe) read(src io.Reader, delay func() time.Duration) {
	buf := make([]byte, readSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			p.mu.Lock()
			p.q.Push(time.Now(), delay(), data)
			p.cond.Broadcast()
			for p.q.Bytes() >= queueLimit && !p.dead {
				p.cond.Wait()
			}
			dead := p.dead
			p.mu.Unlock()
			if dead {
				return
			}
		}
		if err != nil {
			p.mu.Lock()
			p.eof = true
			if !errors.Is(err, io.EOF) {
				p.rerr = err
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
	}
}

func (p *pipe) write(dst io.Writer) (int64, error) {
	var written int64
	var bufs net.Buffers
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		release, ok := p.q.Next()
		if !ok {
			if p.eof {
				return written, p.rerr
			}
			p.cond.Wait()
			continue
		}
		if wait := time.Until(release); wait > 0 {
			// Later chunks are never released earlier than this one, so nothing can need
			// writing before the sleep ends.
			p.mu.Unlock()
			time.Sleep(wait)
			p.mu.Lock()
		}
		now := time.Now()
		bufs = bufs[:0]
		for {
			b, ok := p.q.Pop(now)
			if !ok {
				break
			}
			bufs = append(bufs, b)
		}
		p.cond.Broadcast() // room for the reader
		p.mu.Unlock()
		w := bufs // WriteTo consumes its receiver
		n, err := w.WriteTo(dst)
		written += n
		clear(bufs)
		p.mu.Lock()
		if err != nil {
			p.dead = true
			p.cond.Broadcast()
			return written, err
		}
	}
}
