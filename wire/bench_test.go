package wire

import (
	"bytes"
	"fmt"
	"testing"
)

// The benchmarks reuse one Encoder and one Decoder, as a stream's reader and writer do.

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%012d", i) } // 16 bytes

func benchRequests() map[string]any {
	value := bytes.Repeat([]byte{'v'}, 256)
	kvs := func(n int) []KeyValue {
		out := make([]KeyValue, n)
		for i := range out {
			out[i] = KeyValue{Key: benchKey(i), CreateRevision: 1000 + int64(i), ModRevision: 5000 + int64(i), Version: 3, Value: value}
		}
		return out
	}
	hdr := Header{ClusterID: 0x1122334455667788, MemberID: 0x99aabbccddeeff00, Revision: 123456, RaftTerm: 7}
	return map[string]any{
		"Put": Request{ID: 1 << 20, Op: OpPut, Body: &PutRequest{Key: benchKey(1), Value: value}},
		"RangeResponse1": Response{ID: 1 << 20, Op: OpRange, Header: hdr,
			Body: &RangeResponse{KVs: kvs(1), Count: 1}},
		"RangeResponse100": Response{ID: 1 << 20, Op: OpRange, Header: hdr,
			Body: &RangeResponse{KVs: kvs(100), More: true, Count: 1000}},
		// A compare-and-swap: etcd's usual txn.
		"Txn": Request{ID: 1 << 20, Op: OpTxn, Body: &TxnRequest{
			Compare: []Compare{{Result: CompareEqual, Target: TargetMod, Key: benchKey(1), ModRevision: 5001}},
			Success: []RequestOp{{Put: &PutRequest{Key: benchKey(1), Value: value}}},
			Failure: []RequestOp{{Range: &RangeRequest{Key: benchKey(1)}}},
		}},
	}
}

func decodeInto(d *Decoder, body []byte, like any, req *Request, resp *Response) error {
	if _, ok := like.(Request); ok {
		return d.Request(body, req)
	}
	return d.Response(body, resp)
}

func BenchmarkCodec(b *testing.B) {
	msgs := benchRequests()
	for _, name := range []string{"Put", "RangeResponse1", "RangeResponse100", "Txn"} {
		msg := msgs[name]
		b.Run(name+"/encode+decode", func(b *testing.B) {
			enc, d := NewEncoder(), NewDecoder()
			var req Request
			var resp Response
			frame, _ := enc.Frame(msg)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				frame, err := enc.Frame(msg)
				if err != nil {
					b.Fatal(err)
				}
				if err := decodeInto(d, frame[FrameHeaderSize:], msg, &req, &resp); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/encode", func(b *testing.B) {
			enc := NewEncoder()
			frame, _ := enc.Frame(msg)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Frame(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			frame, _ := NewEncoder().Frame(msg)
			body := bytes.Clone(frame[FrameHeaderSize:])
			d := NewDecoder()
			var req Request
			var resp Response
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeInto(d, body, msg, &req, &resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFrameReader reads Put request frames from a stream, as a server's stream reader
// does before decoding.
func BenchmarkFrameReader(b *testing.B) {
	frame, _ := NewEncoder().Frame(benchRequests()["Put"])
	const perStream = 1024
	stream := bytes.Repeat(frame, perStream)
	r := bytes.NewReader(stream)
	fr := NewFrameReader(r, DefaultLimits().FrameLimit())
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%perStream == 0 {
			r.Reset(stream)
		}
		i++
		if _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
