// Command scaleplot draws docs/scale-agents.png and
// docs/scale-communities.png (docs/RESULTS.md §11) from what
// bench/scale-sweep.sh measured, and prints the figures behind them as
// Markdown tables:
//
//	go run ./bench/scaleplot -in results/scale -out docs
//
// It reads IN/agents/N-K.json (fedgan loadtest reports; K = 0 asked every
// connected device), IN/sim/C-D.json (fedgan sim of C communities of D
// devices) and IN/cloudround.txt (go test -bench CloudRound ./fed/).
package main
