package wire

// RoundNumber is how people and tools are shown a round: counted from 1.
// index is the protocol's round index (the `round` of every message, from
// 0); final says that index is past the last round (a final global model,
// a cloud that is done, an edge that has finished: their index equals the
// number of rounds), which is shown as the last round, index itself.
//
// Everything the services write (the statuses, metrics.jsonl, logs,
// /metrics, progress lines, pictures, `fedgan watch`) shows rounds this
// way; only the messages' bytes carry the index (docs/DESIGN.md §4.3).
func RoundNumber(index int, final bool) int {
	if final {
		return index
	}
	return index + 1
}
