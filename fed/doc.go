// Package fed holds the paper's algorithm as pure code: its equations as
// functions, and the device's, the edge's and the cloud's round logic as
// state machines fed with events and the time. It does no I/O, starts no
// goroutine, reads no clock and writes no log; the services in device,
// edge and cloud are the I/O shells around it, and sim drives the
// very same state machines in one goroutine on a virtual clock.
//
// The paper is Xiong, Li and Cai, "Federated Generative Model on
// Multi-Source Heterogeneous Data in IoT" (AAAI 2023); docs/DESIGN.md §2 states
// the algorithm precisely.
//
// # Equations
//
// Each function cites its equation and is numerically stable: softmaxes
// go through the maximum (losses of ±1000 give finite weights), inputs
// that are NaN, infinite, empty or of mismatched lengths give a typed
// error, never a panic and never a NaN out.
//
//   - SyncWeights: Eq. 4, w_j = softmax(L)_j, L_sync = Σ w_j L_j, with the
//     exact coefficients c_j = w_j (1 + L_j − L_sync) = ∂L_sync/∂L_j
//     (WeightsExact) or the weights themselves (WeightsConstant); or the
//     plain average of the M-D GAN baseline, w_j = c_j = 1/n (WeightsUniform).
//   - AsyncWeights, TimeStaleness, VersionStaleness: Eq. 5, e^(−s_j)/|M|.
//   - Combine: Σ_j c_j F_j, the aggregated ∂L/∂X_g that the edge
//     backpropagates through G_k.
//   - GlobalWeights and Average: Eq. 1, the softmax of the communities'
//     losses and the parameter-wise weighted sum.
//   - DomainInvariant and DomainSpecific: Eq. 8 and Eq. 9 with their
//     gradients, for the label-related scenario.
//   - Robust, RobustConfig and its Bound, RobustSyncWeights,
//     RobustAsyncWeights, RobustGlobalWeights and RobustCombine, with
//     LossPlausible, CapWeights, ClipScale, Norm and Median: bounded
//     influence of one device on Eq. 4/5 and of one community on Eq. 1
//     (docs/DESIGN.md §2.11); RobustNone is the paper's arithmetic.
//
// # State machines
//
// Device is one device's computation for a batch: a step of D_kj on real
// and fake rows (Eq. 2), then L_kj (Eq. 3) and the feedback F_kj on the
// updated D_kj.
//
// Agent is one device's protocol around its Device: a Mailbox that keeps
// only the newest batch and drops a repeat of the (round, iteration) it
// answered last, the draw of as many real rows as the batch has fake ones,
// the instance noise of the batch's round (InstanceNoise), and one
// Feedback per batch worked on, in Ready. The agent service and the
// simulator both drive it.
//
// Edge is community k's round logic. It is told what happened (Presence,
// Global, Feedback) and what time it is (Tick), and it says what to do in
// Ready: batches to publish, generator updates to upload, whether to
// checkpoint, notes to log. The caller does it, then calls Advance. The
// same loop drives a sync edge (wait for every live device or the sync
// period, Eq. 4) and an async one (drain what has arrived, Eq. 5), in the
// manner of etcd/raft's RawNode:
//
//	e, err := fed.NewEdge(cfg)
//	for {
//		select {
//		case ev := <-events: // decoded and validated by wire
//			switch {
//			case ev.feedback != nil:
//				e.Feedback(now(), ev.feedback) // late, stale, duplicate: counted, returned as errors
//			case ev.presence:
//				e.Presence(now(), ev.device, ev.online)
//			case ev.global != nil:
//				e.Global(now(), ev.global)
//			}
//		case <-timer(e.Deadline()):
//		}
//		e.Tick(now())
//		r := e.Ready()
//		if r.Checkpoint {
//			save(e.Snapshot()) // before publishing: a restart re-sends what may be lost
//		}
//		publish(r.Batches, r.Updates)
//		e.Advance()
//	}
//
// Cloud is the global round logic: Start announces the current model,
// Update accepts a community's G_k for the open round (duplicates, late
// and future rounds, unknown communities are dropped and counted), and a
// round closes when every community has reported or at its timeout, with
// Eq. 1 over those that did. Snapshot and Restore make a restart lose
// nothing and apply nothing twice.
//
// # Determinism
//
// Every random draw comes from a *rand.PCG passed in, whose state is part
// of the snapshots; given the same events at the same times, a state
// machine produces bit-identical output.
package fed
