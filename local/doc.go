// Package local runs a whole topology on this machine, in one process:
// over real MQTT on loopback ([Run]: the cloud with its embedded broker,
// an embedded broker and edge service per community and every device
// agent, as `fedgan run` does) or in the simulator on a virtual clock
// ([Simulate], as `fedgan sim` does). Both return what they measured as
// values; the functions that format them ([Header], [ProgressLine],
// [Result.Summary]) print the lines that `fedgan run` shows.
//
// It sits above the services (cloud, edge, device, sim) and below the
// product CLI and the experiment harness, which both use it.
package local
