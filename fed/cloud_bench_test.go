package fed

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// BenchmarkCloudRound is the cloud's cost of one round (Eq. 1 over K
// communities' updates, the server step and the next global model) as K
// grows, for the reference G (100→256→512→784, 561,168 parameters) under
// the paper's arithmetic and under the default clip rule:
//
//	go test -run '^$' -bench CloudRound -benchtime 5x ./fed/
func BenchmarkCloudRound(b *testing.B) {
	for _, rule := range []Robust{RobustNone, RobustClip} {
		for _, k := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/K=%d", rule, k), func(b *testing.B) {
				g, err := nn.MLP([]int{100, 256, 512, 784}, 0.2, "tanh", rand.New(rand.NewPCG(1, 1)))
				if err != nil {
					b.Fatal(err)
				}
				ids := make([]string, k)
				for i := range ids {
					ids[i] = fmt.Sprintf("c%d", i)
				}
				c, err := NewCloud(CloudConfig{Communities: ids, GlobalRounds: b.N + 1, RoundTimeout: time.Hour, Gen: g,
					RNG: rand.NewPCG(2, 2), Robust: RobustConfig{Rule: rule}})
				if err != nil {
					b.Fatal(err)
				}
				now := time.Unix(0, 0)
				c.Start(now)
				c.Advance()
				base := nn.Flatten(nil, g.Params())
				params := make([][]float32, k)
				rng := rand.New(rand.NewPCG(3, 3))
				for i := range params {
					params[i] = make([]float32, len(base))
					for j, v := range base {
						params[i][j] = v + float32(rng.NormFloat64())*1e-3
					}
				}
				b.SetBytes(int64(4 * len(base) * k))
				b.ResetTimer()
				for r := range b.N {
					for i, id := range ids {
						if err := c.Update(now, &Update{Community: id, Round: r, Loss: -0.5, Params: params[i]}); err != nil {
							b.Fatal(err)
						}
					}
					c.Advance()
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
			})
		}
	}
}
