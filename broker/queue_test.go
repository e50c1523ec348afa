package broker

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func drain(t *testing.T, q *queue) []string {
	t.Helper()
	var got []string
	for {
		seq, m, ok := q.peek()
		if !ok {
			return got
		}
		got = append(got, fmt.Sprintf("%s=%s q%d r%v", m.Topic, m.Payload, m.QoS, m.Retain))
		q.remove(seq)
	}
}

func TestQueueOrderAndBounds(t *testing.T) {
	for _, dir := range []string{"", "disk"} {
		t.Run("dir="+dir, func(t *testing.T) {
			if dir != "" {
				dir = filepath.Join(t.TempDir(), dir)
			}
			// 3 messages or 20 bytes (topic+payload), whichever binds first.
			q, err := openQueue(dir, 3, 20, discard())
			if err != nil {
				t.Fatal(err)
			}
			defer q.close()
			push := func(topic, payload string) int {
				t.Helper()
				n, err := q.push(&qmsg{Topic: topic, Payload: []byte(payload), QoS: 1})
				if err != nil {
					t.Fatalf("push(%s): %v", topic, err)
				}
				return n
			}
			for i, p := range []string{"1", "2", "3"} {
				if n := push("t", p); n != 0 {
					t.Fatalf("push %d dropped %d, want 0", i, n)
				}
			}
			if n := push("t", "4"); n != 1 { // 4 messages > 3: drop "1"
				t.Fatalf("4th push dropped %d, want 1", n)
			}
			// Holding 2, 3, 4 (2 bytes each): a 4th message drops "2" by count.
			if n := push("t", "0123456789"); n != 1 {
				t.Fatalf("11-byte push dropped %d, want 1", n)
			}
			// Holding 3, 4, 0123456789 (15 bytes): dropping "3" makes room by
			// count, but 13+8 > 20 bytes, so "4" goes too.
			if n := push("t", "abcdefg"); n != 2 {
				t.Fatalf("8-byte push dropped %d, want 2", n)
			}
			if _, err := q.push(&qmsg{Topic: "t", Payload: make([]byte, 20)}); !errors.Is(err, ErrQueue) {
				t.Fatalf("push of 21 bytes: err %v, want ErrQueue", err)
			}
			if n, b := q.len(); n != 2 || b != 11+8 {
				t.Fatalf("len = %d messages %d bytes, want 2, 19", n, b)
			}
			got := drain(t, q)
			want := []string{"t=0123456789 q1 rfalse", "t=abcdefg q1 rfalse"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("drained %q, want %q", got, want)
			}
			st := q.stats()
			if st.enqueued != 6 || st.dropped != 4 || st.rejected != 1 || st.removed != 2 {
				t.Errorf("stats = %+v, want enqueued 6, dropped 4, rejected 1, removed 2", st)
			}
		})
	}
}

func TestQueueReload(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 100, 1<<20, discard())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := q.push(&qmsg{Topic: fmt.Sprintf("t/%d", i), Payload: []byte{byte(i)}, QoS: byte(i % 2), Retain: i == 3}); err != nil {
			t.Fatal(err)
		}
	}
	seq, _, _ := q.peek()
	q.remove(seq) // t/0 delivered

	// A second bridge on the same directory is refused while the first
	// holds it.
	if _, err := openQueue(dir, 100, 1<<20, discard()); err == nil {
		t.Fatalf("second openQueue on a locked dir: nil error, want refusal")
	}
	q.close()

	// A crash mid-write leaves a .tmp file: never accepted, so deleted.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000ff.msg.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Bit rot in t/2.
	p := filepath.Join(dir, fmt.Sprintf("%016x.msg", seq+2))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-5] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}

	q2, err := openQueue(dir, 100, 1<<20, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer q2.close()
	if n, _ := q2.len(); n != 4 {
		t.Fatalf("reloaded %d messages, want 4", n)
	}
	if _, err := q2.push(&qmsg{Topic: "t/5", Payload: []byte{5}, QoS: 1}); err != nil {
		t.Fatal(err)
	}
	got := drain(t, q2)
	want := []string{"t/1=\x01 q1 rfalse", "t/3=\x03 q1 rtrue", "t/4=\x04 q0 rfalse", "t/5=\x05 q1 rfalse"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reload drained %q, want %q", got, want)
	}
	if c := q2.stats().corrupt; c != 1 {
		t.Errorf("corrupt = %d, want 1", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000ff.msg.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover .tmp: stat err %v, want not exist", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.msg"))
	if len(left) != 0 {
		t.Errorf("files left after draining: %v", left)
	}
}

func TestQueueReloadOverBounds(t *testing.T) {
	dir := t.TempDir()
	q, err := openQueue(dir, 10, 1<<20, discard())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := q.push(&qmsg{Topic: "t", Payload: []byte{byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	q2, err := openQueue(dir, 2, 1<<20, discard()) // the bound shrank
	if err != nil {
		t.Fatal(err)
	}
	defer q2.close()
	got := drain(t, q2)
	want := []string{"t=3 q0 rfalse", "t=4 q0 rfalse"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drained %q, want %q", got, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, m := range []qmsg{
		{Topic: "a", Payload: nil},
		{Topic: "fedgan/v1/c/c1/generator", Payload: bytes.Repeat([]byte{7}, 70000), QoS: 1, Retain: true},
	} {
		var buf bytes.Buffer
		if err := encodeRecord(&buf, &m); err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(buf.Bytes())
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.Topic != m.Topic || !bytes.Equal(got.Payload, m.Payload) || got.QoS != m.QoS || got.Retain != m.Retain {
			t.Errorf("round trip: got %s q%d r%v %d bytes, want %s q%d r%v %d bytes",
				got.Topic, got.QoS, got.Retain, len(got.Payload), m.Topic, m.QoS, m.Retain, len(m.Payload))
		}
		b := buf.Bytes()
		if _, err := decodeRecord(b[:len(b)-1]); !errors.Is(err, errCorrupt) {
			t.Errorf("truncated record: err %v, want errCorrupt", err)
		}
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the queue file decoder: it
// must never panic, and whatever it accepts must encode back to the same
// bytes.
func FuzzDecodeRecord(f *testing.F) {
	var buf bytes.Buffer
	_ = encodeRecord(&buf, &qmsg{Topic: "t/x", Payload: []byte("hello"), QoS: 1, Retain: true})
	f.Add(buf.Bytes())
	f.Add([]byte("FGBQ"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRecord(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := encodeRecord(&out, m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Errorf("re-encoded %x, want %x", out.Bytes(), b)
		}
	})
}
