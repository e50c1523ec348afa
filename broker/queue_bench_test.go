package broker

import (
	"fmt"
	"testing"
)

// BenchmarkQueuePush measures what a publish on a bridged topic costs the
// publisher: one durable append (write, fsync, rename, directory fsync)
// and, here, the removal after delivery.
func BenchmarkQueuePush(b *testing.B) {
	for _, mode := range []string{"memory", "disk"} {
		for _, size := range []int{1 << 10, 256 << 10, 2 << 20} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) {
				dir := ""
				if mode == "disk" {
					dir = b.TempDir()
				}
				q, err := openQueue(dir, 1000, 1<<30, discard())
				if err != nil {
					b.Fatal(err)
				}
				defer q.close()
				m := &qmsg{Topic: "fedgan/v1/c/c1/generator", Payload: make([]byte, size), QoS: 1}
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := q.push(m); err != nil {
						b.Fatal(err)
					}
					seq, _, _ := q.peek()
					q.remove(seq)
				}
			})
		}
	}
}
