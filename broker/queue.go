package broker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrQueue is wrapped by store-and-forward queue errors.
var ErrQueue = errors.New("broker: bridge queue")

// qmsg is one message waiting for the uplink.
type qmsg struct {
	Topic   string // remote topic
	Payload []byte
	QoS     byte
	Retain  bool
}

func (m *qmsg) size() int64 { return int64(len(m.Topic) + len(m.Payload)) }

type qentry struct {
	seq  uint64
	size int64
	msg  *qmsg // memory mode only; on disk the file holds it
}

// queue is the bridge's bounded, ordered store-and-forward queue.
//
// With a directory, each message is one file named by its 16-hex-digit
// sequence number: written to a temporary file, fsync'd, renamed into
// place, and the directory fsync'd, all before push returns. Removing a
// message unlinks its file. On open, leftover temporary files (a crash
// mid-write) are deleted and the remaining files are the queue, in
// sequence order. A file that fails its CRC is dropped, logged and
// counted when it reaches the head. A lock file (flock) keeps two
// processes off one directory.
//
// Without a directory the queue lives in memory, with the same bounds.
//
// The bounds count messages and topic+payload bytes. A push that would
// exceed them first drops the oldest messages (drop-oldest), counted.
type queue struct {
	dir      string
	maxMsgs  int
	maxBytes int64
	log      *slog.Logger
	lock     *os.File

	mu      sync.Mutex
	entries []qentry
	bytes   int64
	next    uint64
	notify  chan struct{} // capacity 1: "something was pushed"
	closed  bool
	st      queueStats
}

type queueStats struct {
	enqueued, removed, dropped, rejected, corrupt uint64
}

const (
	qMagic     = "FGBQ"
	qVersion   = 1
	qHeaderLen = 4 + 1 + 1 + 1 + 2 + 4 // magic, version, qos, flags, topic len, payload len
	qTrailer   = 4                     // CRC-32C
	qExt       = ".msg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openQueue opens (creating) the queue in dir, or an in-memory queue if
// dir is "". It returns how many messages were reloaded.
func openQueue(dir string, maxMsgs int, maxBytes int64, log *slog.Logger) (*queue, error) {
	q := &queue{dir: dir, maxMsgs: maxMsgs, maxBytes: maxBytes, log: log, next: 1, notify: make(chan struct{}, 1)}
	if dir == "" {
		return q, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQueue, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQueue, err)
	}
	q.lock = lock
	des, err := os.ReadDir(dir)
	if err != nil {
		q.close()
		return nil, fmt.Errorf("%w: %w", ErrQueue, err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a write that never completed: never accepted
			continue
		}
		base, ok := strings.CutSuffix(name, qExt)
		if !ok || len(base) != 16 {
			continue
		}
		seq, err := strconv.ParseUint(base, 16, 64)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		size := info.Size() - qHeaderLen - qTrailer
		if size < 0 {
			size = 0
		}
		q.entries = append(q.entries, qentry{seq: seq, size: size})
		q.bytes += size
		q.next = max(q.next, seq+1)
	}
	slices.SortFunc(q.entries, func(a, b qentry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	// The bounds may have shrunk since the files were written.
	q.mu.Lock()
	n := q.makeRoomLocked(0, 0)
	q.mu.Unlock()
	if n > 0 {
		log.Warn("bridge queue over its bounds after reload: dropped oldest", "dropped", n)
	}
	return q, nil
}

// close releases the directory lock. The queue must not be used after.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.lock != nil {
		_ = q.lock.Close()
		q.lock = nil
	}
}

func (q *queue) path(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%016x%s", seq, qExt))
}

// push appends m durably (on disk: fsync'd before it returns) and returns
// how many old messages were dropped to make room. It returns an error,
// and stores nothing, if m alone exceeds the byte bound or the write
// fails.
func (q *queue) push(m *qmsg) (dropped int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.st.rejected++
		return 0, fmt.Errorf("%w: closed", ErrQueue)
	}
	size := m.size()
	if size > q.maxBytes {
		q.st.rejected++
		return 0, fmt.Errorf("%w: message of %d bytes exceeds the queue bound of %d bytes", ErrQueue, size, q.maxBytes)
	}
	dropped = q.makeRoomLocked(1, size)
	seq := q.next
	e := qentry{seq: seq, size: size}
	if q.dir == "" {
		e.msg = m
	} else if err := q.writeFile(seq, m); err != nil {
		q.st.rejected++
		return dropped, fmt.Errorf("%w: %w", ErrQueue, err)
	}
	q.next++
	q.entries = append(q.entries, e)
	q.bytes += size
	q.st.enqueued++
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return dropped, nil
}

// makeRoomLocked drops the oldest entries until msgs more messages of
// size bytes in all fit, and returns how many it dropped.
func (q *queue) makeRoomLocked(msgs int, size int64) int {
	n := 0
	for len(q.entries) > 0 && (len(q.entries)+msgs > q.maxMsgs || q.bytes+size > q.maxBytes) {
		q.removeHeadLocked()
		q.st.dropped++
		n++
	}
	return n
}

func (q *queue) removeHeadLocked() {
	e := q.entries[0]
	q.entries[0] = qentry{}
	q.entries = q.entries[1:]
	q.bytes -= e.size
	if q.dir != "" {
		if err := os.Remove(q.path(e.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			q.log.Error("bridge queue: remove", "error", err, "seq", e.seq)
		}
	}
}

func (q *queue) writeFile(seq uint64, m *qmsg) error {
	if len(m.Topic) > 65535 {
		return fmt.Errorf("topic of %d bytes", len(m.Topic))
	}
	final := q.path(seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = encodeRecord(f, m)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(q.dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
		_ = os.Remove(final)
	}
	return err
}

func encodeRecord(w io.Writer, m *qmsg) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	crc := crc32.New(castagnoli)
	mw := io.MultiWriter(bw, crc)
	var h [qHeaderLen]byte
	copy(h[:4], qMagic)
	h[4] = qVersion
	h[5] = m.QoS
	if m.Retain {
		h[6] = 1
	}
	binary.BigEndian.PutUint16(h[7:9], uint16(len(m.Topic)))
	binary.BigEndian.PutUint32(h[9:13], uint32(len(m.Payload)))
	_, _ = mw.Write(h[:])
	_, _ = io.WriteString(mw, m.Topic)
	_, _ = mw.Write(m.Payload)
	var t [qTrailer]byte
	binary.BigEndian.PutUint32(t[:], crc.Sum32())
	_, _ = bw.Write(t[:])
	return bw.Flush()
}

// errCorrupt marks a queue file that does not decode.
var errCorrupt = errors.New("corrupt record")

func decodeRecord(b []byte) (*qmsg, error) {
	if len(b) < qHeaderLen+qTrailer || string(b[:4]) != qMagic {
		return nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	if b[4] != qVersion {
		return nil, fmt.Errorf("%w: version %d", errCorrupt, b[4])
	}
	tl := int(binary.BigEndian.Uint16(b[7:9]))
	pl := int(binary.BigEndian.Uint32(b[9:13]))
	if len(b) != qHeaderLen+tl+pl+qTrailer {
		return nil, fmt.Errorf("%w: length %d, header says %d", errCorrupt, len(b), qHeaderLen+tl+pl+qTrailer)
	}
	body := b[:len(b)-qTrailer]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-qTrailer:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if b[5] > 2 || b[6] > 1 {
		return nil, fmt.Errorf("%w: qos %d flags %d", errCorrupt, b[5], b[6])
	}
	return &qmsg{
		QoS:     b[5],
		Retain:  b[6] == 1,
		Topic:   string(b[qHeaderLen : qHeaderLen+tl]),
		Payload: b[qHeaderLen+tl : qHeaderLen+tl+pl],
	}, nil
}

// peek returns the head message without removing it. ok is false when
// the queue is empty. A head file that cannot be read is dropped
// (counted as corrupt) and the next one tried.
func (q *queue) peek() (seq uint64, m *qmsg, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.entries) > 0 {
		e := q.entries[0]
		if q.dir == "" {
			return e.seq, e.msg, true
		}
		b, err := os.ReadFile(q.path(e.seq))
		if err == nil {
			m, err = decodeRecord(b)
		}
		if err == nil {
			return e.seq, m, true
		}
		q.log.Error("bridge queue: unreadable message dropped", "error", err, "seq", e.seq)
		q.removeHeadLocked()
		q.st.corrupt++
	}
	return 0, nil, false
}

// remove deletes message seq if it is still the head (it may have been
// dropped meanwhile).
func (q *queue) remove(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) > 0 && q.entries[0].seq == seq {
		q.removeHeadLocked()
		q.st.removed++
	}
}

// len returns the number of queued messages and their bytes.
func (q *queue) len() (int, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries), q.bytes
}

func (q *queue) stats() queueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.st
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
