// Package cloud is the cloud tier: it collects every community's G_k over
// the bridged generator topics, merges them with Eq. 1 (and, in the LR
// scenario, trains the domain classifier C), publishes the retained
// global model, and writes the results: metrics.jsonl, pictures and the
// final generator. After each evaluation it publishes a small retained
// preview of the picture (Preview, {root}/global/preview) for the
// dashboards. It embeds a mochi broker by default or connects to an
// existing MQTT broker by URL.
package cloud
