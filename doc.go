// Package fedgan is a federated generative model for IoT that runs over
// MQTT: device agents train discriminators on local data, edge gateways
// train community generators from the devices' feedback, and a cloud
// service merges them into one global generator (Xiong, Li and Cai,
// "Federated Generative Model on Multi-Source Heterogeneous Data in IoT",
// AAAI 2023). See README.md and docs/DESIGN.md.
//
// The root package holds only repository-wide tests.
package fedgan
